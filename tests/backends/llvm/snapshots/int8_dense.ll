; ModuleID = "int8_dense"
target triple = "x86_64-unknown-linux-gnu"
target datalayout = ""

define internal void @"frittata_barrier"(ptr %".1", i32 %".2")
{
entry:
  %".4" = getelementptr i32, ptr %".1", i64 1
  %".5" = icmp sgt i32 %".2", 1
  br i1 %".5", label %"parallel.then", label %"parallel.end"
parallel.then:
  %".7" = load atomic i32, ptr %".4" acquire, align 4
  %".8" = atomicrmw add ptr %".1", i32 1 acq_rel
  %".9" = sub i32 %".2", 1
  %".10" = icmp eq i32 %".8", %".9"
  br i1 %".10", label %"parallel.then.if", label %"parallel.then.else"
parallel.end:
  ret void
parallel.then.if:
  %".12" = atomicrmw xchg ptr %".1", i32 0 monotonic
  %".13" = atomicrmw add ptr %".4", i32 1 release
  br label %"parallel.then.endif"
parallel.then.else:
  br label %"spin"
parallel.then.endif:
  br label %"parallel.end"
spin:
  %"rounds" = phi  i32 [0, %"parallel.then.else"], [%".21", %"yield.end"]
  call void @"llvm.x86.sse2.pause"()
  %".17" = icmp sgt i32 %"rounds", 2000
  br i1 %".17", label %"yield.then", label %"yield.end"
spin.out:
  br label %"parallel.then.endif"
yield.then:
  %".19" = call i32 @"sched_yield"()
  br label %"yield.end"
yield.end:
  %".21" = add i32 %"rounds", 1
  %".22" = load atomic i32, ptr %".4" acquire, align 4
  %".23" = icmp eq i32 %".22", %".7"
  br i1 %".23", label %"spin", label %"spin.out"
}

declare void @"llvm.x86.sse2.pause"()

declare i32 @"sched_yield"()

define internal void @"k0_dense"(ptr %".1", i32 %".2", i32 %".3", ptr %".4") noinline nounwind
{
entry:
  %".53" = getelementptr inbounds ptr, ptr %".1", i64 2
  %".54" = load ptr, ptr %".53", align 8
  %".55" = getelementptr inbounds i8, ptr %".54", i64 0
  %".37" = getelementptr inbounds ptr, ptr %".1", i64 3
  %".38" = load ptr, ptr %".37", align 8
  %".39" = getelementptr inbounds i8, ptr %".38", i64 0
  %".28" = getelementptr inbounds ptr, ptr %".1", i64 1
  %".29" = load ptr, ptr %".28", align 8
  %".30" = getelementptr inbounds i8, ptr %".29", i64 0
  %"acc" = alloca i32
  %".6" = sext i32 %".2" to i64
  %".7" = sext i32 %".3" to i64
  %".8" = mul i64 2, %".6"
  %"lo" = sdiv i64 %".8", %".7"
  %".9" = add i64 %".6", 1
  %".10" = mul i64 2, %".9"
  %"hi" = sdiv i64 %".10", %".7"
  br label %"row.cond"
row.cond:
  %"row" = phi  i64 [%"lo", %"entry"], [%"row.next", %"col.end"]
  %".12" = icmp slt i64 %"row", %"hi"
  br i1 %".12", label %"row.body", label %"row.end"
row.body:
  %".14" = urem i64 %"row", 2
  %".15" = udiv i64 %"row", 2
  br label %"col.cond"
row.end:
  ret void
col.cond:
  %"col" = phi  i64 [0, %"row.body"], [%"col.next", %"k.end"]
  %".17" = icmp slt i64 %"col", 3
  br i1 %".17", label %"col.body", label %"col.end"
col.body:
  store i32 0, i32* %"acc"
  br label %"k.cond"
col.end:
  %"row.next" = add i64 %"row", 1
  br label %"row.cond"
k.cond:
  %"k" = phi  i64 [0, %"col.body"], [%"k.next", %"k.body"]
  %".21" = icmp slt i64 %"k", 4
  br i1 %".21", label %"k.body", label %"k.end"
k.body:
  %".23" = load i32, i32* %"acc"
  %".24" = mul i64 %".14", 4
  %".25" = add i64 0, %".24"
  %".26" = mul i64 %"k", 1
  %".27" = add i64 %".25", %".26"
  %".31" = getelementptr inbounds i8, ptr %".30", i64 %".27"
  %".32" = load i8, ptr %".31"
  %".33" = mul i64 %"col", 4
  %".34" = add i64 0, %".33"
  %".35" = mul i64 %"k", 1
  %".36" = add i64 %".34", %".35"
  %".40" = getelementptr inbounds i8, ptr %".39", i64 %".36"
  %".41" = load i8, ptr %".40"
  %".42" = sext i8 %".32" to i32
  %".43" = sext i8 %".41" to i32
  %".44" = mul i32 %".42", %".43"
  %".45" = add i32 %".23", %".44"
  store i32 %".45", i32* %"acc"
  %"k.next" = add i64 %"k", 1
  br label %"k.cond"
k.end:
  %".48" = load i32, i32* %"acc"
  %".49" = mul i64 %".14", 3
  %".50" = add i64 0, %".49"
  %".51" = mul i64 %"col", 1
  %".52" = add i64 %".50", %".51"
  %".56" = getelementptr inbounds i32, ptr %".55", i64 %".52"
  store i32 %".48", ptr %".56"
  %"col.next" = add i64 %"col", 1
  br label %"col.cond"
}

define void @"frittata_run"(ptr %".1", i32 %".2", i32 %".3", ptr %".4")
{
entry:
  call void @"k0_dense"(ptr %".1", i32 %".2", i32 %".3", ptr %".4")
  call void @"frittata_barrier"(ptr %".4", i32 %".3")
  ret void
}
