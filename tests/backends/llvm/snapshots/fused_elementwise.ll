; ModuleID = "fused_elementwise"
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

define internal void @"k0_fused_elementwise"(ptr %".1", i32 %".2", i32 %".3", ptr %".4") noinline nounwind
{
entry:
  %".40" = getelementptr inbounds ptr, ptr %".1", i64 3
  %".41" = load ptr, ptr %".40", align 8
  %".42" = getelementptr inbounds i8, ptr %".41", i64 0
  %".29" = getelementptr inbounds ptr, ptr %".1", i64 2
  %".30" = load ptr, ptr %".29", align 8
  %".31" = getelementptr inbounds i8, ptr %".30", i64 0
  %".21" = getelementptr inbounds ptr, ptr %".1", i64 1
  %".22" = load ptr, ptr %".21", align 8
  %".23" = getelementptr inbounds i8, ptr %".22", i64 0
  %".6" = sext i32 %".2" to i64
  %".7" = sext i32 %".3" to i64
  %".8" = mul i64 4, %".6"
  %"lo" = sdiv i64 %".8", %".7"
  %".9" = add i64 %".6", 1
  %".10" = mul i64 4, %".9"
  %"hi" = sdiv i64 %".10", %".7"
  br label %"p.cond"
p.cond:
  %"p" = phi  i64 [%"lo", %"entry"], [%"p.next", %"d0.end"]
  %".12" = icmp slt i64 %"p", %"hi"
  br i1 %".12", label %"p.body", label %"p.end"
p.body:
  br label %"d0.cond"
p.end:
  ret void
d0.cond:
  %"d0" = phi  i64 [0, %"p.body"], [%"d0.next", %"d0.body"]
  %".15" = icmp slt i64 %"d0", 8
  br i1 %".15", label %"d0.body", label %"d0.end"
d0.body:
  %".17" = mul i64 %"p", 8
  %".18" = add i64 0, %".17"
  %".19" = mul i64 %"d0", 1
  %".20" = add i64 %".18", %".19"
  %".24" = getelementptr inbounds float, ptr %".23", i64 %".20"
  %".25" = load float, ptr %".24"
  %".26" = fmul float %".25", 0x4000000000000000
  %".27" = mul i64 %"d0", 1
  %".28" = add i64 0, %".27"
  %".32" = getelementptr inbounds float, ptr %".31", i64 %".28"
  %".33" = load float, ptr %".32"
  %".34" = fadd float %".26", %".33"
  %".35" = call float @"llvm.maximum.f32"(float %".34", float              0x0)
  %".36" = mul i64 %"p", 8
  %".37" = add i64 0, %".36"
  %".38" = mul i64 %"d0", 1
  %".39" = add i64 %".37", %".38"
  %".43" = getelementptr inbounds float, ptr %".42", i64 %".39"
  store float %".35", ptr %".43"
  %"d0.next" = add i64 %"d0", 1
  br label %"d0.cond"
d0.end:
  %"p.next" = add i64 %"p", 1
  br label %"p.cond"
}

declare float @"llvm.maximum.f32"(float %".1", float %".2")

define void @"frittata_run"(ptr %".1", i32 %".2", i32 %".3", ptr %".4")
{
entry:
  call void @"k0_fused_elementwise"(ptr %".1", i32 %".2", i32 %".3", ptr %".4")
  call void @"frittata_barrier"(ptr %".4", i32 %".3")
  ret void
}
