; unit entry
; ModuleID = "int8_dense"
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
  %"k0_dense" = alloca ptr, i64 3
  %".6" = getelementptr inbounds ptr, ptr %".1", i64 1
  %".7" = load ptr, ptr %".6", align 8
  %".8" = getelementptr inbounds i8, ptr %".7", i64 0
  %".9" = getelementptr inbounds ptr, ptr %"k0_dense", i64 0
  store ptr %".8", ptr %".9"
  %".11" = getelementptr inbounds ptr, ptr %".1", i64 3
  %".12" = load ptr, ptr %".11", align 8
  %".13" = getelementptr inbounds i8, ptr %".12", i64 0
  %".14" = getelementptr inbounds ptr, ptr %"k0_dense", i64 1
  store ptr %".13", ptr %".14"
  %".16" = getelementptr inbounds ptr, ptr %".1", i64 2
  %".17" = load ptr, ptr %".16", align 8
  %".18" = getelementptr inbounds i8, ptr %".17", i64 0
  %".19" = getelementptr inbounds ptr, ptr %"k0_dense", i64 2
  store ptr %".18", ptr %".19"
  call void @"fk_be0f3f3d696ac9ebbabe3eee"(ptr %"k0_dense", i32 %".2", i32 %".3", ptr %".4")
  call void @"frittata_barrier"(ptr %".4", i32 %".3", i32 %".2", i32 2)
  ret void
}

declare void @"fk_be0f3f3d696ac9ebbabe3eee"(ptr %".1", i32 %".2", i32 %".3", ptr %".4")

define void @"frittata_profile"(ptr %".1", i32 %".2", i32 %".3", ptr %".4", ptr %".5")
{
entry:
  %"k0_dense" = alloca ptr, i64 3
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
  %".35" = getelementptr inbounds ptr, ptr %"k0_dense", i64 0
  store ptr %".34", ptr %".35"
  %".37" = getelementptr inbounds ptr, ptr %".1", i64 3
  %".38" = load ptr, ptr %".37", align 8
  %".39" = getelementptr inbounds i8, ptr %".38", i64 0
  %".40" = getelementptr inbounds ptr, ptr %"k0_dense", i64 1
  store ptr %".39", ptr %".40"
  %".42" = getelementptr inbounds ptr, ptr %".1", i64 2
  %".43" = load ptr, ptr %".42", align 8
  %".44" = getelementptr inbounds i8, ptr %".43", i64 0
  %".45" = getelementptr inbounds ptr, ptr %"k0_dense", i64 2
  store ptr %".44", ptr %".45"
  call void @"fk_be0f3f3d696ac9ebbabe3eee"(ptr %"k0_dense", i32 %".2", i32 %".3", ptr %".4")
  call void @"frittata_barrier"(ptr %".4", i32 %".3", i32 %".2", i32 2)
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
; unit fk_be0f3f3d696ac9ebbabe3eee
; ModuleID = "kernel"
target triple = "x86_64-unknown-linux-gnu"
target datalayout = ""

declare void @"frittata_barrier"(ptr %".1", i32 %".2", i32 %".3", i32 %".4")

define void @"fk_be0f3f3d696ac9ebbabe3eee"(ptr %".1", i32 %".2", i32 %".3", ptr %".4") noinline nounwind
{
entry:
  %".71" = getelementptr inbounds ptr, ptr %".1", i64 2
  %".72" = load ptr, ptr %".71", align 8
  %".56" = getelementptr inbounds ptr, ptr %".1", i64 1
  %".57" = load ptr, ptr %".56", align 8
  %".48" = getelementptr inbounds ptr, ptr %".1", i64 0
  %".49" = load ptr, ptr %".48", align 8
  %"acc" = alloca i32
  br label %"take.start"
take.start:
  %".7" = icmp eq i32 %".3", 1
  %".8" = select  i1 %".7", i64 2, i64 1
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
  %".29" = icmp slt i64 %".28", 2
  %".30" = select  i1 %".29", i64 %".28", i64 2
  br label %"row.cond"
take.end:
  ret void
take.try:
  %"word" = phi  i64 [%".15", %"take.claim"], [%".25", %"take.swap"]
  %".17" = and i64 %"word", 4294967295
  %".18" = lshr i64 %"word", 32
  %".19" = icmp eq i64 %".18", %".12"
  %".20" = icmp ult i64 %".17", 2
  %".21" = and i1 %".19", %".20"
  br i1 %".21", label %"take.swap", label %"take.end"
take.swap:
  %".23" = add i64 %"word", %".8"
  %".24" = cmpxchg ptr %".14", i64 %"word", i64 %".23" acq_rel acquire
  %".25" = extractvalue {i64, i1} %".24", 0
  %".26" = extractvalue {i64, i1} %".24", 1
  br i1 %".26", label %"take.body", label %"take.try"
row.cond:
  %"row" = phi  i64 [%"first", %"take.body"], [%"row.next", %"col.end"]
  %".32" = icmp slt i64 %"row", %".30"
  br i1 %".32", label %"row.body", label %"row.end"
row.body:
  %".34" = urem i64 %"row", 2
  %".35" = udiv i64 %"row", 2
  br label %"col.cond"
row.end:
  br i1 %".7", label %"take.end", label %"take.done"
col.cond:
  %"col" = phi  i64 [0, %"row.body"], [%"col.next", %"k.end"]
  %".37" = icmp slt i64 %"col", 3
  br i1 %".37", label %"col.body", label %"col.end"
col.body:
  store i32 0, i32* %"acc"
  br label %"k.cond"
col.end:
  %"row.next" = add i64 %"row", 1
  br label %"row.cond"
k.cond:
  %"k" = phi  i64 [0, %"col.body"], [%"k.next", %"k.body"]
  %".41" = icmp slt i64 %"k", 4
  br i1 %".41", label %"k.body", label %"k.end"
k.body:
  %".43" = load i32, i32* %"acc"
  %".44" = mul i64 %".34", 4
  %".45" = add i64 0, %".44"
  %".46" = mul i64 %"k", 1
  %".47" = add i64 %".45", %".46"
  %".50" = getelementptr inbounds i8, ptr %".49", i64 %".47"
  %".51" = load i8, ptr %".50"
  %".52" = mul i64 %"col", 4
  %".53" = add i64 0, %".52"
  %".54" = mul i64 %"k", 1
  %".55" = add i64 %".53", %".54"
  %".58" = getelementptr inbounds i8, ptr %".57", i64 %".55"
  %".59" = load i8, ptr %".58"
  %".60" = sext i8 %".51" to i32
  %".61" = sext i8 %".59" to i32
  %".62" = mul i32 %".60", %".61"
  %".63" = add i32 %".43", %".62"
  store i32 %".63", i32* %"acc"
  %"k.next" = add i64 %"k", 1
  br label %"k.cond"
k.end:
  %".66" = load i32, i32* %"acc"
  %".67" = mul i64 %".34", 3
  %".68" = add i64 0, %".67"
  %".69" = mul i64 %"col", 1
  %".70" = add i64 %".68", %".69"
  %".73" = getelementptr inbounds i32, ptr %".72", i64 %".70"
  store i32 %".66", ptr %".73"
  %"col.next" = add i64 %"col", 1
  br label %"col.cond"
take.done:
  %".78" = sub i64 %".30", %"first"
  %".79" = trunc i64 %".78" to i32
  %".80" = getelementptr i32, ptr %".4", i64 4
  %".81" = atomicrmw add ptr %".80", i32 %".79" seq_cst
  %".82" = add i32 %".81", %".79"
  %".83" = icmp eq i32 %".82", 2
  br i1 %".83", label %"take.last.then", label %"take.last.end"
take.last.then:
  %".85" = getelementptr i32, ptr %".4", i64 6
  %".86" = load atomic i32, ptr %".85" seq_cst, align 4
  %".87" = icmp ne i32 %".86", 0
  br i1 %".87", label %"wake.then", label %"wake.end"
take.last.end:
  br label %"take.claim"
wake.then:
  %".89" = call i64 (i64, ...) @"syscall"(i64 202, ptr %".80", i32 129, i32 2147483647, ptr null)
  br label %"wake.end"
wake.end:
  br label %"take.last.end"
}

declare i64 @"syscall"(i64 %".1", ...)
