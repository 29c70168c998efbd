; ModuleID = "reduce_sum"
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

define internal void @"k0_reduce_sum"(ptr %".1", i32 %".2", i32 %".3", ptr %".4") noinline nounwind
{
entry:
  %".38" = getelementptr inbounds ptr, ptr %".1", i64 2
  %".39" = load ptr, ptr %".38", align 8
  %".40" = getelementptr inbounds i8, ptr %".39", i64 0
  %".24" = getelementptr inbounds ptr, ptr %".1", i64 1
  %".25" = load ptr, ptr %".24", align 8
  %".26" = getelementptr inbounds i8, ptr %".25", i64 0
  %"acc" = alloca double
  %".6" = sext i32 %".2" to i64
  %".7" = sext i32 %".3" to i64
  %".8" = mul i64 4, %".6"
  %"lo" = sdiv i64 %".8", %".7"
  %".9" = add i64 %".6", 1
  %".10" = mul i64 4, %".9"
  %"hi" = sdiv i64 %".10", %".7"
  br label %"o.cond"
o.cond:
  %"o" = phi  i64 [%"lo", %"entry"], [%"o.next", %"r0.end"]
  %".12" = icmp slt i64 %"o", %"hi"
  br i1 %".12", label %"o.body", label %"o.end"
o.body:
  %".14" = urem i64 %"o", 4
  %".15" = udiv i64 %"o", 4
  store double              0x0, double* %"acc"
  br label %"r0.cond"
o.end:
  ret void
r0.cond:
  %"r0" = phi  i64 [0, %"o.body"], [%"r0.next", %"r0.body"]
  %".18" = icmp slt i64 %"r0", 8
  br i1 %".18", label %"r0.body", label %"r0.end"
r0.body:
  %".20" = mul i64 %".14", 8
  %".21" = add i64 0, %".20"
  %".22" = mul i64 %"r0", 1
  %".23" = add i64 %".21", %".22"
  %".27" = getelementptr inbounds float, ptr %".26", i64 %".23"
  %".28" = load float, ptr %".27"
  %".29" = load double, double* %"acc"
  %".30" = fpext float %".28" to double
  %".31" = fadd double %".29", %".30"
  store double %".31", double* %"acc"
  %"r0.next" = add i64 %"r0", 1
  br label %"r0.cond"
r0.end:
  %".34" = load double, double* %"acc"
  %".35" = fptrunc double %".34" to float
  %".36" = mul i64 %"o", 1
  %".37" = add i64 0, %".36"
  %".41" = getelementptr inbounds float, ptr %".40", i64 %".37"
  store float %".35", ptr %".41"
  %"o.next" = add i64 %"o", 1
  br label %"o.cond"
}

define void @"frittata_run"(ptr %".1", i32 %".2", i32 %".3", ptr %".4")
{
entry:
  call void @"k0_reduce_sum"(ptr %".1", i32 %".2", i32 %".3", ptr %".4")
  call void @"frittata_barrier"(ptr %".4", i32 %".3")
  ret void
}
