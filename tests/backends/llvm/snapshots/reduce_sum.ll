; unit entry
; ModuleID = "reduce_sum"
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
  %"k0_reduce_sum" = alloca ptr, i64 2
  %".6" = getelementptr inbounds ptr, ptr %".1", i64 1
  %".7" = load ptr, ptr %".6", align 8
  %".8" = getelementptr inbounds i8, ptr %".7", i64 0
  %".9" = getelementptr inbounds ptr, ptr %"k0_reduce_sum", i64 0
  store ptr %".8", ptr %".9"
  %".11" = getelementptr inbounds ptr, ptr %".1", i64 2
  %".12" = load ptr, ptr %".11", align 8
  %".13" = getelementptr inbounds i8, ptr %".12", i64 0
  %".14" = getelementptr inbounds ptr, ptr %"k0_reduce_sum", i64 1
  store ptr %".13", ptr %".14"
  call void @"fk_58eee29b7ec7cf8af13eedf4"(ptr %"k0_reduce_sum", i32 %".2", i32 %".3", ptr %".4")
  call void @"frittata_barrier"(ptr %".4", i32 %".3")
  ret void
}

declare void @"fk_58eee29b7ec7cf8af13eedf4"(ptr %".1", i32 %".2", i32 %".3", ptr %".4")

define void @"frittata_profile"(ptr %".1", i32 %".2", i32 %".3", ptr %".4", ptr %".5")
{
entry:
  %"k0_reduce_sum" = alloca ptr, i64 2
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
  %".35" = getelementptr inbounds ptr, ptr %"k0_reduce_sum", i64 0
  store ptr %".34", ptr %".35"
  %".37" = getelementptr inbounds ptr, ptr %".1", i64 2
  %".38" = load ptr, ptr %".37", align 8
  %".39" = getelementptr inbounds i8, ptr %".38", i64 0
  %".40" = getelementptr inbounds ptr, ptr %"k0_reduce_sum", i64 1
  store ptr %".39", ptr %".40"
  call void @"fk_58eee29b7ec7cf8af13eedf4"(ptr %"k0_reduce_sum", i32 %".2", i32 %".3", ptr %".4")
  call void @"frittata_barrier"(ptr %".4", i32 %".3")
  %".44" = icmp eq i32 %".2", 0
  br i1 %".44", label %"stamp.then.2", label %"stamp.end.2"
stamp.then.2:
  %".46" = call i32 @"clock_gettime"(i32 1, {i64, i64}* %"now")
  %".47" = getelementptr {i64, i64}, {i64, i64}* %"now", i32 0, i32 0
  %".48" = load i64, {i64, i64}* %".47"
  %".49" = getelementptr {i64, i64}, {i64, i64}* %"now", i32 0, i32 1
  %".50" = load i64, {i64, i64}* %".49"
  %".51" = mul i64 %".48", 1000000000
  %".52" = add i64 %".51", %".50"
  %".53" = getelementptr inbounds i64, ptr %".5", i64 2
  store i64 %".52", ptr %".53"
  br label %"stamp.end.2"
stamp.end.2:
  ret void
}

declare i32 @"clock_gettime"(i32 %".1", ptr %".2")
; unit fk_58eee29b7ec7cf8af13eedf4
; ModuleID = "kernel"
target triple = "x86_64-unknown-linux-gnu"
target datalayout = ""

declare void @"frittata_barrier"(ptr %".1", i32 %".2")

define void @"fk_58eee29b7ec7cf8af13eedf4"(ptr %".1", i32 %".2", i32 %".3", ptr %".4") noinline nounwind
{
entry:
  %".48" = getelementptr inbounds ptr, ptr %".1", i64 1
  %".49" = load ptr, ptr %".48", align 8
  %"lanes" = alloca <8 x double>
  %".27" = getelementptr inbounds ptr, ptr %".1", i64 0
  %".28" = load ptr, ptr %".27", align 8
  %"acc" = alloca double
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
  br label %"o.cond"
take.end:
  ret void
o.cond:
  %"o" = phi  i64 [%".11", %"take.body"], [%"o.next", %"rv.end"]
  %".19" = icmp slt i64 %"o", %".17"
  br i1 %".19", label %"o.body", label %"o.end"
o.body:
  %".21" = urem i64 %"o", 4
  %".22" = udiv i64 %"o", 4
  %".23" = mul i64 %".21", 8
  %".24" = add i64 0, %".23"
  %".25" = mul i64 0, 1
  %".26" = add i64 %".24", %".25"
  %".29" = getelementptr inbounds float, ptr %".28", i64 %".26"
  store <8 x double> <double              0x0, double              0x0, double              0x0, double              0x0, double              0x0, double              0x0, double              0x0, double              0x0>, <8 x double>* %"lanes"
  br label %"rv.cond"
o.end:
  br label %"take.claim"
rv.cond:
  %"rv" = phi  i64 [0, %"o.body"], [%"rv.next", %"rv.body"]
  %".32" = icmp slt i64 %"rv", 8
  br i1 %".32", label %"rv.body", label %"rv.end"
rv.body:
  %".34" = getelementptr float, ptr %".29", i64 %"rv"
  %".35" = load <8 x float>, ptr %".34", align 4
  %".36" = load <8 x double>, <8 x double>* %"lanes"
  %".37" = fpext <8 x float> %".35" to <8 x double>
  %".38" = fadd reassoc <8 x double> %".36", %".37"
  store <8 x double> %".38", <8 x double>* %"lanes"
  %"rv.next" = add i64 %"rv", 8
  br label %"rv.cond"
rv.end:
  %".41" = load <8 x double>, <8 x double>* %"lanes"
  %".42" = call reassoc double @"llvm.vector.reduce.fadd.v8f64"(double              0x0, <8 x double> %".41")
  store double %".42", double* %"acc"
  %".44" = load double, double* %"acc"
  %".45" = fptrunc double %".44" to float
  %".46" = mul i64 %"o", 1
  %".47" = add i64 0, %".46"
  %".50" = getelementptr inbounds float, ptr %".49", i64 %".47"
  store float %".45", ptr %".50"
  %"o.next" = add i64 %"o", 1
  br label %"o.cond"
}

declare double @"llvm.vector.reduce.fadd.v8f64"(double %".1", <8 x double> %".2")
