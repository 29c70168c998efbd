; unit entry
; ModuleID = "fused_elementwise"
target triple = "x86_64-unknown-linux-gnu"
target datalayout = ""

define void @"frittata_barrier"(ptr %".1", i32 %".2", i32 %".3", i32 %".4")
{
entry:
  %".6" = icmp sgt i32 %".2", 1
  br i1 %".6", label %"team.then", label %"team.end"
team.then:
  %".8" = add i32 %".3", 16
  %".9" = getelementptr i32, ptr %".1", i32 %".8"
  %".10" = load i32, ptr %".9", align 4
  %".11" = icmp slt i32 %".4", 0
  br i1 %".11", label %"team.then.if", label %"team.then.else"
team.end:
  ret void
team.then.if:
  %".13" = getelementptr i32, ptr %".1", i64 0
  %".14" = atomicrmw add ptr %".13", i32 1 acq_rel
  %".15" = sub i32 %".2", 1
  %".16" = icmp eq i32 %".14", %".15"
  br i1 %".16", label %"team.then.if.if", label %"team.then.if.else"
team.then.else:
  %".54" = icmp eq i32 %".3", 0
  br i1 %".54", label %"team.then.else.if", label %"team.then.else.else"
team.then.endif:
  %".109" = add i32 %".10", 1
  store i32 %".109", ptr %".9", align 4
  br label %"team.end"
team.then.if.if:
  %".18" = atomicrmw xchg ptr %".13", i32 0 monotonic
  %".19" = getelementptr i32, ptr %".1", i64 4
  %".20" = atomicrmw xchg ptr %".19", i32 0 monotonic
  %".21" = add i32 %".10", 1
  %".22" = zext i32 %".21" to i64
  %".23" = shl i64 %".22", 32
  %".24" = getelementptr i32, ptr %".1", i64 2
  %".25" = atomicrmw xchg ptr %".24", i64 %".23" seq_cst
  %".26" = getelementptr i32, ptr %".1", i64 3
  %".27" = getelementptr i32, ptr %".1", i64 5
  %".28" = load atomic i32, ptr %".27" seq_cst, align 4
  %".29" = icmp ne i32 %".28", 0
  br i1 %".29", label %"wake.then", label %"wake.end"
team.then.if.else:
  %".34" = getelementptr i32, ptr %".1", i64 3
  %".35" = getelementptr i32, ptr %".1", i64 5
  br label %"spin"
team.then.if.endif:
  br label %"team.then.endif"
wake.then:
  %".31" = call i64 (i64, ...) @"syscall"(i64 202, ptr %".26", i32 129, i32 2147483647, ptr null)
  br label %"wake.end"
wake.end:
  br label %"team.then.if.endif"
spin:
  %"rounds" = phi  i32 [0, %"team.then.if.else"], [%".41", %"spin.again"], [%"rounds", %"sleep.end"]
  call void @"llvm.x86.sse2.pause"()
  %".38" = load atomic i32, ptr %".34" acquire, align 4
  %".39" = icmp eq i32 %".38", %".10"
  br i1 %".39", label %"spin.again", label %"spin.out"
spin.again:
  %".41" = add i32 %"rounds", 1
  %".42" = icmp sgt i32 %"rounds", 2000
  br i1 %".42", label %"spin.sleep", label %"spin"
spin.sleep:
  %".44" = atomicrmw add ptr %".35", i32 1 seq_cst
  %".45" = load atomic i32, ptr %".34" seq_cst, align 4
  %".46" = icmp eq i32 %".45", %".10"
  br i1 %".46", label %"sleep.then", label %"sleep.end"
spin.out:
  br label %"team.then.if.endif"
sleep.then:
  %".48" = call i64 (i64, ...) @"syscall"(i64 202, ptr %".34", i32 128, i32 %".45", ptr null)
  br label %"sleep.end"
sleep.end:
  %".50" = atomicrmw sub ptr %".35", i32 1 monotonic
  br label %"spin"
team.then.else.if:
  %".56" = getelementptr i32, ptr %".1", i64 4
  %".57" = getelementptr i32, ptr %".1", i64 6
  br label %"spin.1"
team.then.else.else:
  %".89" = getelementptr i32, ptr %".1", i64 3
  %".90" = getelementptr i32, ptr %".1", i64 5
  br label %"spin.2"
team.then.else.endif:
  br label %"team.then.endif"
spin.1:
  %"rounds.1" = phi  i32 [0, %"team.then.else.if"], [%".63", %"spin.again.1"], [%"rounds.1", %"sleep.end.1"]
  call void @"llvm.x86.sse2.pause"()
  %".60" = load atomic i32, ptr %".56" acquire, align 4
  %".61" = icmp ne i32 %".60", %".4"
  br i1 %".61", label %"spin.again.1", label %"spin.out.1"
spin.again.1:
  %".63" = add i32 %"rounds.1", 1
  %".64" = icmp sgt i32 %"rounds.1", 2000
  br i1 %".64", label %"spin.sleep.1", label %"spin.1"
spin.sleep.1:
  %".66" = atomicrmw add ptr %".57", i32 1 seq_cst
  %".67" = load atomic i32, ptr %".56" seq_cst, align 4
  %".68" = icmp ne i32 %".67", %".4"
  br i1 %".68", label %"sleep.then.1", label %"sleep.end.1"
spin.out.1:
  %".74" = getelementptr i32, ptr %".1", i64 4
  %".75" = atomicrmw xchg ptr %".74", i32 0 monotonic
  %".76" = add i32 %".10", 1
  %".77" = zext i32 %".76" to i64
  %".78" = shl i64 %".77", 32
  %".79" = getelementptr i32, ptr %".1", i64 2
  %".80" = atomicrmw xchg ptr %".79", i64 %".78" seq_cst
  %".81" = getelementptr i32, ptr %".1", i64 3
  %".82" = getelementptr i32, ptr %".1", i64 5
  %".83" = load atomic i32, ptr %".82" seq_cst, align 4
  %".84" = icmp ne i32 %".83", 0
  br i1 %".84", label %"wake.then.1", label %"wake.end.1"
sleep.then.1:
  %".70" = call i64 (i64, ...) @"syscall"(i64 202, ptr %".56", i32 128, i32 %".67", ptr null)
  br label %"sleep.end.1"
sleep.end.1:
  %".72" = atomicrmw sub ptr %".57", i32 1 monotonic
  br label %"spin.1"
wake.then.1:
  %".86" = call i64 (i64, ...) @"syscall"(i64 202, ptr %".81", i32 129, i32 2147483647, ptr null)
  br label %"wake.end.1"
wake.end.1:
  br label %"team.then.else.endif"
spin.2:
  %"rounds.2" = phi  i32 [0, %"team.then.else.else"], [%".96", %"spin.again.2"], [%"rounds.2", %"sleep.end.2"]
  call void @"llvm.x86.sse2.pause"()
  %".93" = load atomic i32, ptr %".89" acquire, align 4
  %".94" = icmp eq i32 %".93", %".10"
  br i1 %".94", label %"spin.again.2", label %"spin.out.2"
spin.again.2:
  %".96" = add i32 %"rounds.2", 1
  %".97" = icmp sgt i32 %"rounds.2", 2000
  br i1 %".97", label %"spin.sleep.2", label %"spin.2"
spin.sleep.2:
  %".99" = atomicrmw add ptr %".90", i32 1 seq_cst
  %".100" = load atomic i32, ptr %".89" seq_cst, align 4
  %".101" = icmp eq i32 %".100", %".10"
  br i1 %".101", label %"sleep.then.2", label %"sleep.end.2"
spin.out.2:
  br label %"team.then.else.endif"
sleep.then.2:
  %".103" = call i64 (i64, ...) @"syscall"(i64 202, ptr %".89", i32 128, i32 %".100", ptr null)
  br label %"sleep.end.2"
sleep.end.2:
  %".105" = atomicrmw sub ptr %".90", i32 1 monotonic
  br label %"spin.2"
}

declare i64 @"syscall"(i64 %".1", ...)

declare void @"llvm.x86.sse2.pause"()

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
  call void @"fk_b74cbdb63177c1ee2f0c3912"(ptr %"k0_fused_elementwise", i32 %".2", i32 %".3", ptr %".4")
  call void @"frittata_barrier"(ptr %".4", i32 %".3", i32 %".2", i32 4)
  ret void
}

declare void @"fk_b74cbdb63177c1ee2f0c3912"(ptr %".1", i32 %".2", i32 %".3", ptr %".4")

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
  call void @"fk_b74cbdb63177c1ee2f0c3912"(ptr %"k0_fused_elementwise", i32 %".2", i32 %".3", ptr %".4")
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
; unit fk_b74cbdb63177c1ee2f0c3912
; ModuleID = "kernel"
target triple = "x86_64-unknown-linux-gnu"
target datalayout = ""

declare void @"frittata_barrier"(ptr %".1", i32 %".2", i32 %".3", i32 %".4")

define void @"fk_b74cbdb63177c1ee2f0c3912"(ptr %".1", i32 %".2", i32 %".3", ptr %".4") noinline nounwind
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
  %".74" = atomicrmw add ptr %".73", i32 %".72" seq_cst
  %".75" = add i32 %".74", %".72"
  %".76" = icmp eq i32 %".75", 4
  br i1 %".76", label %"take.last.then", label %"take.last.end"
take.last.then:
  %".78" = getelementptr i32, ptr %".4", i64 6
  %".79" = load atomic i32, ptr %".78" seq_cst, align 4
  %".80" = icmp ne i32 %".79", 0
  br i1 %".80", label %"wake.then", label %"wake.end"
take.last.end:
  br label %"take.claim"
wake.then:
  %".82" = call i64 (i64, ...) @"syscall"(i64 202, ptr %".73", i32 129, i32 2147483647, ptr null)
  br label %"wake.end"
wake.end:
  br label %"take.last.end"
}

declare float @"llvm.maximum.f32"(float %".1", float %".2")

declare i64 @"syscall"(i64 %".1", ...)
