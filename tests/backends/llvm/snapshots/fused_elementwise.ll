; unit entry
; ModuleID = "fused_elementwise"
target triple = "x86_64-unknown-linux-gnu"
target datalayout = ""

define void @"frittata_barrier"(ptr %".1", i32 %".2")
{
entry:
  %".4" = getelementptr i32, ptr %".1", i64 1
  %".5" = getelementptr i32, ptr %".1", i64 2
  %".6" = icmp sgt i32 %".2", 1
  br i1 %".6", label %"entry.if", label %"entry.else"
entry.if:
  %".8" = load atomic i32, ptr %".4" acquire, align 4
  %".9" = atomicrmw add ptr %".1", i32 1 acq_rel
  %".10" = sub i32 %".2", 1
  %".11" = icmp eq i32 %".9", %".10"
  br i1 %".11", label %"entry.if.if", label %"entry.if.else"
entry.else:
  store i32 0, ptr %".5", align 4
  br label %"entry.endif"
entry.endif:
  ret void
entry.if.if:
  %".13" = atomicrmw xchg ptr %".5", i32 0 monotonic
  %".14" = atomicrmw xchg ptr %".1", i32 0 monotonic
  %".15" = atomicrmw add ptr %".4", i32 1 release
  br label %"entry.if.endif"
entry.if.else:
  br label %"spin"
entry.if.endif:
  br label %"entry.endif"
spin:
  %"rounds" = phi  i32 [0, %"entry.if.else"], [%".23", %"yield.end"]
  call void @"llvm.x86.sse2.pause"()
  %".19" = icmp sgt i32 %"rounds", 2000
  br i1 %".19", label %"yield.then", label %"yield.end"
spin.out:
  br label %"entry.if.endif"
yield.then:
  %".21" = call i32 @"sched_yield"()
  br label %"yield.end"
yield.end:
  %".23" = add i32 %"rounds", 1
  %".24" = load atomic i32, ptr %".4" acquire, align 4
  %".25" = icmp eq i32 %".24", %".8"
  br i1 %".25", label %"spin", label %"spin.out"
}

declare void @"llvm.x86.sse2.pause"()

declare i32 @"sched_yield"()

define void @"frittata_run"(ptr %".1", i32 %".2", i32 %".3", ptr %".4")
{
entry:
  %"k0_fused_elementwise" = alloca ptr, i64 3
  %".6" = getelementptr inbounds ptr, ptr %".1", i64 1
  %".7" = load ptr, ptr %".6", align 8
  %".8" = getelementptr inbounds i8, ptr %".7", i64 0
  %".9" = getelementptr inbounds ptr, ptr %"k0_fused_elementwise", i64 0
  store ptr %".8", ptr %".9"
  %".11" = getelementptr inbounds ptr, ptr %".1", i64 2
  %".12" = load ptr, ptr %".11", align 8
  %".13" = getelementptr inbounds i8, ptr %".12", i64 0
  %".14" = getelementptr inbounds ptr, ptr %"k0_fused_elementwise", i64 1
  store ptr %".13", ptr %".14"
  %".16" = getelementptr inbounds ptr, ptr %".1", i64 3
  %".17" = load ptr, ptr %".16", align 8
  %".18" = getelementptr inbounds i8, ptr %".17", i64 0
  %".19" = getelementptr inbounds ptr, ptr %"k0_fused_elementwise", i64 2
  store ptr %".18", ptr %".19"
  call void @"fk_9ba574e67df3463c38b7ac85"(ptr %"k0_fused_elementwise", i32 %".2", i32 %".3", ptr %".4")
  call void @"frittata_barrier"(ptr %".4", i32 %".3")
  ret void
}

declare void @"fk_9ba574e67df3463c38b7ac85"(ptr %".1", i32 %".2", i32 %".3", ptr %".4")

define void @"frittata_profile"(ptr %".1", i32 %".2", i32 %".3", ptr %".4", ptr %".5")
{
entry:
  %"k0_fused_elementwise" = alloca ptr, i64 3
  %"now" = alloca {i64, i64}
  %".7" = icmp eq i32 %".2", 0
  br i1 %".7", label %"stamp.then", label %"stamp.end"
stamp.then:
  %".9" = call i32 @"clock_gettime"(i32 1, {i64, i64}* %"now")
  %".10" = getelementptr {i64, i64}, {i64, i64}* %"now", i32 0, i32 0
  %".11" = load i64, {i64, i64}* %".10"
  %".12" = getelementptr {i64, i64}, {i64, i64}* %"now", i32 0, i32 1
  %".13" = load i64, {i64, i64}* %".12"
  %".14" = mul i64 %".11", 1000000000
  %".15" = add i64 %".14", %".13"
  %".16" = getelementptr inbounds i64, ptr %".5", i64 0
  store i64 %".15", ptr %".16"
  br label %"stamp.end"
stamp.end:
  call void @"frittata_barrier"(ptr %".4", i32 %".3")
  %".20" = icmp eq i32 %".2", 0
  br i1 %".20", label %"stamp.then.1", label %"stamp.end.1"
stamp.then.1:
  %".22" = call i32 @"clock_gettime"(i32 1, {i64, i64}* %"now")
  %".23" = getelementptr {i64, i64}, {i64, i64}* %"now", i32 0, i32 0
  %".24" = load i64, {i64, i64}* %".23"
  %".25" = getelementptr {i64, i64}, {i64, i64}* %"now", i32 0, i32 1
  %".26" = load i64, {i64, i64}* %".25"
  %".27" = mul i64 %".24", 1000000000
  %".28" = add i64 %".27", %".26"
  %".29" = getelementptr inbounds i64, ptr %".5", i64 1
  store i64 %".28", ptr %".29"
  br label %"stamp.end.1"
stamp.end.1:
  %".32" = getelementptr inbounds ptr, ptr %".1", i64 1
  %".33" = load ptr, ptr %".32", align 8
  %".34" = getelementptr inbounds i8, ptr %".33", i64 0
  %".35" = getelementptr inbounds ptr, ptr %"k0_fused_elementwise", i64 0
  store ptr %".34", ptr %".35"
  %".37" = getelementptr inbounds ptr, ptr %".1", i64 2
  %".38" = load ptr, ptr %".37", align 8
  %".39" = getelementptr inbounds i8, ptr %".38", i64 0
  %".40" = getelementptr inbounds ptr, ptr %"k0_fused_elementwise", i64 1
  store ptr %".39", ptr %".40"
  %".42" = getelementptr inbounds ptr, ptr %".1", i64 3
  %".43" = load ptr, ptr %".42", align 8
  %".44" = getelementptr inbounds i8, ptr %".43", i64 0
  %".45" = getelementptr inbounds ptr, ptr %"k0_fused_elementwise", i64 2
  store ptr %".44", ptr %".45"
  call void @"fk_9ba574e67df3463c38b7ac85"(ptr %"k0_fused_elementwise", i32 %".2", i32 %".3", ptr %".4")
  call void @"frittata_barrier"(ptr %".4", i32 %".3")
  %".49" = icmp eq i32 %".2", 0
  br i1 %".49", label %"stamp.then.2", label %"stamp.end.2"
stamp.then.2:
  %".51" = call i32 @"clock_gettime"(i32 1, {i64, i64}* %"now")
  %".52" = getelementptr {i64, i64}, {i64, i64}* %"now", i32 0, i32 0
  %".53" = load i64, {i64, i64}* %".52"
  %".54" = getelementptr {i64, i64}, {i64, i64}* %"now", i32 0, i32 1
  %".55" = load i64, {i64, i64}* %".54"
  %".56" = mul i64 %".53", 1000000000
  %".57" = add i64 %".56", %".55"
  %".58" = getelementptr inbounds i64, ptr %".5", i64 2
  store i64 %".57", ptr %".58"
  br label %"stamp.end.2"
stamp.end.2:
  ret void
}

declare i32 @"clock_gettime"(i32 %".1", ptr %".2")
; unit fk_9ba574e67df3463c38b7ac85
; ModuleID = "kernel"
target triple = "x86_64-unknown-linux-gnu"
target datalayout = ""

declare void @"frittata_barrier"(ptr %".1", i32 %".2")

define void @"fk_9ba574e67df3463c38b7ac85"(ptr %".1", i32 %".2", i32 %".3", ptr %".4") noinline nounwind
{
entry:
  %".51" = getelementptr inbounds ptr, ptr %".1", i64 2
  %".52" = load ptr, ptr %".51", align 8
  %".41" = getelementptr inbounds ptr, ptr %".1", i64 1
  %".42" = load ptr, ptr %".41", align 8
  %".34" = getelementptr inbounds ptr, ptr %".1", i64 0
  %".35" = load ptr, ptr %".34", align 8
  %".6" = icmp eq i32 %".3", 1
  %".7" = select  i1 %".6", i32 4, i32 1
  %".8" = getelementptr i32, ptr %".4", i64 2
  br label %"take.claim"
take.claim:
  %".10" = atomicrmw add ptr %".8", i32 %".7" monotonic
  %".11" = zext i32 %".10" to i64
  %".12" = icmp ult i64 %".11", 4
  br i1 %".12", label %"take.body", label %"take.end"
take.body:
  %".14" = zext i32 %".7" to i64
  %".15" = add i64 %".11", %".14"
  %".16" = icmp slt i64 %".15", 4
  %".17" = select  i1 %".16", i64 %".15", i64 4
  %".18" = icmp sgt i64 %".11", 0
  %".19" = select  i1 %".18", i64 %".11", i64 0
  %".20" = sub i64 %".19", 0
  %".21" = icmp slt i64 %".17", 4
  %".22" = select  i1 %".21", i64 %".17", i64 4
  %".23" = sub i64 %".22", 0
  br label %"p.cond"
take.end:
  ret void
p.cond:
  %"p" = phi  i64 [%".20", %"take.body"], [%"p.next", %"d0.end"]
  %".25" = icmp slt i64 %"p", %".23"
  br i1 %".25", label %"p.body", label %"p.end"
p.body:
  br label %"d0.cond"
p.end:
  br label %"take.claim"
d0.cond:
  %"d0" = phi  i64 [0, %"p.body"], [%"d0.next", %"d0.body"]
  %".28" = icmp slt i64 %"d0", 8
  br i1 %".28", label %"d0.body", label %"d0.end"
d0.body:
  %".30" = mul i64 %"p", 8
  %".31" = add i64 0, %".30"
  %".32" = mul i64 %"d0", 1
  %".33" = add i64 %".31", %".32"
  %".36" = getelementptr inbounds float, ptr %".35", i64 %".33"
  %".37" = load float, ptr %".36"
  %".38" = fmul float %".37", 0x4000000000000000
  %".39" = mul i64 %"d0", 1
  %".40" = add i64 0, %".39"
  %".43" = getelementptr inbounds float, ptr %".42", i64 %".40"
  %".44" = load float, ptr %".43"
  %".45" = fadd float %".38", %".44"
  %".46" = call float @"llvm.maximum.f32"(float %".45", float              0x0)
  %".47" = mul i64 %"p", 8
  %".48" = add i64 0, %".47"
  %".49" = mul i64 %"d0", 1
  %".50" = add i64 %".48", %".49"
  %".53" = getelementptr inbounds float, ptr %".52", i64 %".50"
  store float %".46", ptr %".53"
  %"d0.next" = add i64 %"d0", 1
  br label %"d0.cond"
d0.end:
  %"p.next" = add i64 %"p", 1
  br label %"p.cond"
}

declare float @"llvm.maximum.f32"(float %".1", float %".2")
