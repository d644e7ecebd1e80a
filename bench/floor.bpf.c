// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The floor for irqlat's in-kernel cost: one empty tp_btf program on each
 * tracepoint bpf/irqlat.bpf.c attaches to, nothing else. What the kernel
 * charges for these (trampoline, the program call, and with
 * kernel.bpf_stats_enabled=1 the two clock reads of the statistics) is what
 * any BPF tool pays on these tracepoints before it does any work.
 *
 * With read_clock set (floor_loader --clock), each program reads
 * bpf_ktime_get_ns() once and nothing else: the least any program that
 * timestamps its events pays. The result is dropped (a helper call is never
 * optimized away); storing it in a shared global would add a cache line
 * bouncing between CPUs to the figure. Off, the verifier removes the call.
 *
 * Keep the list in step with IRQLAT_TRACEPOINT/IRQLAT_VECTOR in
 * bpf/irqlat.bpf.c: bench/bench.py checks that both attach the same set.
 * Program names are "floor_" + the tracepoint name.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile bool read_clock = false;

#define FLOOR(tp)                                         \
	SEC("tp_btf/" #tp) int floor_##tp(unsigned long long *ctx) \
	{                                                 \
		if (read_clock)                           \
			bpf_ktime_get_ns();               \
		return 0;                                 \
	}

/* sched */
FLOOR(sched_switch)
FLOOR(sched_waking)
FLOOR(sched_wakeup_new)
FLOOR(sched_wakeup)
FLOOR(sched_migrate_task)
FLOOR(sched_process_fork)
FLOOR(sched_process_exec)
FLOOR(sched_process_exit)

/* device IRQs and softirqs */
FLOOR(irq_handler_entry)
FLOOR(irq_handler_exit)
FLOOR(softirq_raise)
FLOOR(softirq_entry)
FLOOR(softirq_exit)

/* x86 system vectors (optional: a kernel may lack some) */
#define FLOOR_VECTOR(tp) FLOOR(tp##_entry) FLOOR(tp##_exit)
FLOOR_VECTOR(local_timer)
FLOOR_VECTOR(reschedule)
FLOOR_VECTOR(call_function)
FLOOR_VECTOR(call_function_single)
FLOOR_VECTOR(irq_work)
FLOOR_VECTOR(x86_platform_ipi)
FLOOR_VECTOR(thermal_apic)
FLOOR_VECTOR(threshold_apic)
FLOOR_VECTOR(deferred_error_apic)
FLOOR_VECTOR(error_apic)
FLOOR_VECTOR(spurious_apic)

/* signals */
FLOOR(signal_generate)
