/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kernel-version differences in one place.
 *
 * Every tracepoint handler is written once against the raw u64 argument array
 * and instantiated twice: SEC("tp_btf/...") and SEC("raw_tp/..."). The loader
 * probes tp_btf support and disables the losing set before load. In the tp_btf
 * copy task fields are read with direct BTF loads (cheap); in the raw_tp copy
 * through bpf_probe_read_kernel. `btf` is a compile-time constant after
 * inlining, so each copy keeps only its own branch.
 */
#ifndef IRQLAT_COMPAT_BPF_H
#define IRQLAT_COMPAT_BPF_H

#include <bpf/bpf_core_read.h>

#define RD(btf, p, field) ((btf) ? (p)->field : BPF_CORE_READ((p), field))

/* gate.on (defined by the program file) gates every handler. */
#define IRQLAT_TRACEPOINT(tp, handler)                           \
	SEC("tp_btf/" #tp) int tp_btf_##tp(unsigned long long *ctx) \
	{                                                           \
		return gate.on ? handler(ctx, true) : 0;            \
	}                                                           \
	SEC("raw_tp/" #tp) int raw_tp_##tp(unsigned long long *ctx) \
	{                                                           \
		return gate.on ? handler(ctx, false) : 0;           \
	}

/* task_struct::state was renamed __state in 5.14. */
struct task_struct___pre514 {
	long state;
} __attribute__((preserve_access_index));

static __always_inline long task_state(struct task_struct *t, const bool btf)
{
	if (bpf_core_field_exists(t->__state))
		return RD(btf, t, __state);
	return BPF_CORE_READ((struct task_struct___pre514 *)t, state);
}

/* CPU whose runqueue the task belongs to (task_cpu()). */
static __always_inline int task_cpu_of(struct task_struct *t, const bool btf)
{
	return RD(btf, t, thread_info.cpu);
}

#endif /* IRQLAT_COMPAT_BPF_H */
