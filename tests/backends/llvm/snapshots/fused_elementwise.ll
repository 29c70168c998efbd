; unit entry
; ModuleID = "fused_elementwise"
target triple = "x86_64-unknown-linux-gnu"
target datalayout = ""

define void @"frittata_barrier"(ptr %".1", i32 %".2", i32 %".3", i32 %".4")
{
entry:
  %".6" = getelementptr i32, ptr %".1", i64 2
  %".7" = getelementptr i32, ptr %".1", i64 4
  %".8" = icmp sgt i32 %".2", 1
  br i1 %".8", label %"team.then", label %"team.end"
team.then:
  %".10" = add i32 %".3", 16
  %".11" = getelementptr i32, ptr %".1", i32 %".10"
  %".12" = load i32, ptr %".11", align 4
  %".13" = add i32 %".12", 1
  %".14" = zext i32 %".13" to i64
  %".15" = shl i64 %".14", 32
  %".16" = icmp slt i32 %".4", 0
  br i1 %".16", label %"team.then.if", label %"team.then.else"
team.end:
  ret void
team.then.if:
  %".18" = getelementptr i32, ptr %".1", i64 0
  %".19" = atomicrmw add ptr %".18", i32 1 acq_rel
  %".20" = sub i32 %".2", 1
  %".21" = icmp eq i32 %".19", %".20"
  br i1 %".21", label %"team.then.if.if", label %"team.then.if.else"
team.then.else:
  %".41" = icmp eq i32 %".3", 0
  br i1 %".41", label %"team.then.else.if", label %"team.then.else.else"
team.then.endif:
  %".70" = add i32 %".12", 1
  store i32 %".70", ptr %".11", align 4
  br label %"team.end"
team.then.if.if:
  %".23" = atomicrmw xchg ptr %".18", i32 0 monotonic
  %".24" = atomicrmw xchg ptr %".7", i32 0 monotonic
  %".25" = atomicrmw xchg ptr %".6", i64 %".15" release
  br label %"team.then.if.endif"
team.then.if.else:
  br label %"spin"
team.then.if.endif:
  br label %"team.then.endif"
spin:
  %"rounds" = phi  i32 [0, %"team.then.if.else"], [%".33", %"yield.end"]
  call void @"llvm.x86.sse2.pause"()
  %".29" = icmp sgt i32 %"rounds", 2000
  br i1 %".29", label %"yield.then", label %"yield.end"
spin.out:
  br label %"team.then.if.endif"
yield.then:
  %".31" = call i32 @"sched_yield"()
  br label %"yield.end"
yield.end:
  %".33" = add i32 %"rounds", 1
  %".34" = load atomic i64, ptr %".6" acquire, align 8
  %".35" = lshr i64 %".34", 32
  %".36" = trunc i64 %".35" to i32
  %".37" = icmp eq i32 %".36", %".12"
  br i1 %".37", label %"spin", label %"spin.out"
team.then.else.if:
  br label %"spin.1"
team.then.else.else:
  br label %"spin.2"
team.then.else.endif:
  br label %"team.then.endif"
spin.1:
  %"rounds.1" = phi  i32 [0, %"team.then.else.if"], [%".49", %"yield.end.1"]
  call void @"llvm.x86.sse2.pause"()
  %".45" = icmp sgt i32 %"rounds.1", 2000
  br i1 %".45", label %"yield.then.1", label %"yield.end.1"
spin.out.1:
  %".53" = atomicrmw xchg ptr %".7", i32 0 monotonic
  %".54" = atomicrmw xchg ptr %".6", i64 %".15" release
  br label %"team.then.else.endif"
yield.then.1:
  %".47" = call i32 @"sched_yield"()
  br label %"yield.end.1"
yield.end.1:
  %".49" = add i32 %"rounds.1", 1
  %".50" = load atomic i32, ptr %".7" acquire, align 4
  %".51" = icmp ne i32 %".50", %".4"
  br i1 %".51", label %"spin.1", label %"spin.out.1"
spin.2:
  %"rounds.2" = phi  i32 [0, %"team.then.else.else"], [%".62", %"yield.end.2"]
  call void @"llvm.x86.sse2.pause"()
  %".58" = icmp sgt i32 %"rounds.2", 2000
  br i1 %".58", label %"yield.then.2", label %"yield.end.2"
spin.out.2:
  br label %"team.then.else.endif"
yield.then.2:
  %".60" = call i32 @"sched_yield"()
  br label %"yield.end.2"
yield.end.2:
  %".62" = add i32 %"rounds.2", 1
  %".63" = load atomic i64, ptr %".6" acquire, align 8
  %".64" = lshr i64 %".63", 32
  %".65" = trunc i64 %".64" to i32
  %".66" = icmp eq i32 %".65", %".12"
  br i1 %".66", label %"spin.2", label %"spin.out.2"
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
  call void @"fk_70a8902e480a97a6853556f9"(ptr %"k0_fused_elementwise", i32 %".2", i32 %".3", ptr %".4")
  call void @"frittata_barrier"(ptr %".4", i32 %".3", i32 %".2", i32 4)
  ret void
}

declare void @"fk_70a8902e480a97a6853556f9"(ptr %".1", i32 %".2", i32 %".3", ptr %".4")

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
  call void @"frittata_barrier"(ptr %".4", i32 %".3", i32 %".2", i32 -1)
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
  call void @"fk_70a8902e480a97a6853556f9"(ptr %"k0_fused_elementwise", i32 %".2", i32 %".3", ptr %".4")
  call void @"frittata_barrier"(ptr %".4", i32 %".3", i32 %".2", i32 4)
  call void @"frittata_barrier"(ptr %".4", i32 %".3", i32 %".2", i32 -1)
  %".50" = icmp eq i32 %".2", 0
  br i1 %".50", label %"stamp.then.2", label %"stamp.end.2"
stamp.then.2:
  %".52" = call i32 @"clock_gettime"(i32 1, {i64, i64}* %"now")
  %".53" = getelementptr {i64, i64}, {i64, i64}* %"now", i32 0, i32 0
  %".54" = load i64, {i64, i64}* %".53"
  %".55" = getelementptr {i64, i64}, {i64, i64}* %"now", i32 0, i32 1
  %".56" = load i64, {i64, i64}* %".55"
  %".57" = mul i64 %".54", 1000000000
  %".58" = add i64 %".57", %".56"
  %".59" = getelementptr inbounds i64, ptr %".5", i64 2
  store i64 %".58", ptr %".59"
  br label %"stamp.end.2"
stamp.end.2:
  ret void
}

declare i32 @"clock_gettime"(i32 %".1", ptr %".2")
; unit fk_70a8902e480a97a6853556f9
; ModuleID = "kernel"
target triple = "x86_64-unknown-linux-gnu"
target datalayout = ""

declare void @"frittata_barrier"(ptr %".1", i32 %".2", i32 %".3", i32 %".4")

define void @"fk_70a8902e480a97a6853556f9"(ptr %".1", i32 %".2", i32 %".3", ptr %".4") noinline nounwind
{
entry:
  %".64" = getelementptr inbounds ptr, ptr %".1", i64 2
  %".65" = load ptr, ptr %".64", align 8
  %".54" = getelementptr inbounds ptr, ptr %".1", i64 1
  %".55" = load ptr, ptr %".54", align 8
  %".47" = getelementptr inbounds ptr, ptr %".1", i64 0
  %".48" = load ptr, ptr %".47", align 8
  br label %"take.start"
take.start:
  %".7" = icmp eq i32 %".3", 1
  %".8" = select  i1 %".7", i64 4, i64 1
  %".9" = add i32 %".2", 16
  %".10" = getelementptr i32, ptr %".4", i32 %".9"
  %".11" = load i32, ptr %".10", align 4
  %".12" = zext i32 %".11" to i64
  br i1 %".7", label %"take.body", label %"take.claim"
take.claim:
  %".14" = getelementptr i32, ptr %".4", i64 2
  %".15" = load atomic i64, ptr %".14" acquire, align 8
  br label %"take.try"
take.body:
  %"first" = phi  i64 [0, %"take.start"], [%".17", %"take.swap"]
  %".28" = add i64 %"first", %".8"
  %".29" = icmp slt i64 %".28", 4
  %".30" = select  i1 %".29", i64 %".28", i64 4
  %".31" = icmp sgt i64 %"first", 0
  %".32" = select  i1 %".31", i64 %"first", i64 0
  %".33" = sub i64 %".32", 0
  %".34" = icmp slt i64 %".30", 4
  %".35" = select  i1 %".34", i64 %".30", i64 4
  %".36" = sub i64 %".35", 0
  br label %"p.cond"
take.end:
  ret void
take.try:
  %"word" = phi  i64 [%".15", %"take.claim"], [%".25", %"take.swap"]
  %".17" = and i64 %"word", 4294967295
  %".18" = lshr i64 %"word", 32
  %".19" = icmp eq i64 %".18", %".12"
  %".20" = icmp ult i64 %".17", 4
  %".21" = and i1 %".19", %".20"
  br i1 %".21", label %"take.swap", label %"take.end"
take.swap:
  %".23" = add i64 %"word", %".8"
  %".24" = cmpxchg ptr %".14", i64 %"word", i64 %".23" acq_rel acquire
  %".25" = extractvalue {i64, i1} %".24", 0
  %".26" = extractvalue {i64, i1} %".24", 1
  br i1 %".26", label %"take.body", label %"take.try"
p.cond:
  %"p" = phi  i64 [%".33", %"take.body"], [%"p.next", %"d0.end"]
  %".38" = icmp slt i64 %"p", %".36"
  br i1 %".38", label %"p.body", label %"p.end"
p.body:
  br label %"d0.cond"
p.end:
  br i1 %".7", label %"take.end", label %"take.done"
d0.cond:
  %"d0" = phi  i64 [0, %"p.body"], [%"d0.next", %"d0.body"]
  %".41" = icmp slt i64 %"d0", 8
  br i1 %".41", label %"d0.body", label %"d0.end"
d0.body:
  %".43" = mul i64 %"p", 8
  %".44" = add i64 0, %".43"
  %".45" = mul i64 %"d0", 1
  %".46" = add i64 %".44", %".45"
  %".49" = getelementptr inbounds float, ptr %".48", i64 %".46"
  %".50" = load float, ptr %".49"
  %".51" = fmul float %".50", 0x4000000000000000
  %".52" = mul i64 %"d0", 1
  %".53" = add i64 0, %".52"
  %".56" = getelementptr inbounds float, ptr %".55", i64 %".53"
  %".57" = load float, ptr %".56"
  %".58" = fadd float %".51", %".57"
  %".59" = call float @"llvm.maximum.f32"(float %".58", float              0x0)
  %".60" = mul i64 %"p", 8
  %".61" = add i64 0, %".60"
  %".62" = mul i64 %"d0", 1
  %".63" = add i64 %".61", %".62"
  %".66" = getelementptr inbounds float, ptr %".65", i64 %".63"
  store float %".59", ptr %".66"
  %"d0.next" = add i64 %"d0", 1
  br label %"d0.cond"
d0.end:
  %"p.next" = add i64 %"p", 1
  br label %"p.cond"
take.done:
  %".71" = sub i64 %".30", %"first"
  %".72" = trunc i64 %".71" to i32
  %".73" = getelementptr i32, ptr %".4", i64 4
  %".74" = atomicrmw add ptr %".73", i32 %".72" release
  br label %"take.claim"
}

declare float @"llvm.maximum.f32"(float %".1", float %".2")
