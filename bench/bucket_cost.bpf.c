// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The histogram bucket (irqlat_hist_bucket, bpf/irqlat.h) as the kernel's JIT
 * runs it, timed by BPF_PROG_TEST_RUN (bench/bucket_cost.cpp). One run draws
 * 16 durations, log-uniform over 0.5-128 us like interrupt and wakeup times
 * (xorshift, so no branch predictor learns them), and buckets each:
 *   mode 0: no bucket (the baseline: the draws alone),
 *   mode 1: a compare and branch per halving step (irqlat's log2 before
 *           it became branch-free; kept here as the reference),
 *   mode 2: irqlat_hist_bucket.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "bpf/irqlat.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile int mode = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} rng SEC(".maps");

/* Where the buckets go, so none is optimized away. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, IRQLAT_HIST_BUCKETS);
	__type(key, __u32);
	__type(value, __u32);
} sink SEC(".maps");

static __always_inline unsigned int branchy_bucket(__u64 v)
{
	unsigned int r = 0, e;

	if (v < IRQLAT_HIST_SUB)
		return (unsigned int)v;
	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1) { r += 1; }
	e = r;
	if (e > IRQLAT_HIST_MAX_EXP - 1)
		return IRQLAT_HIST_BUCKETS - 1;
	return (e - IRQLAT_HIST_SUB_BITS + 1) * IRQLAT_HIST_SUB +
	       (unsigned int)((v >> (e - IRQLAT_HIST_SUB_BITS)) & (IRQLAT_HIST_SUB - 1));
}

SEC("xdp")
int bucket_cost(struct xdp_md *ctx)
{
	__u32 zero = 0, sum = 0;
	__u64 *state = bpf_map_lookup_elem(&rng, &zero);

	if (!state)
		return XDP_PASS;
	__u64 x = *state;

#pragma unroll
	for (int i = 0; i < 16; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		unsigned int sh = 9 + (x & 7);
		__u64 v = (1ULL << sh) + ((x >> 8) & ((1ULL << sh) - 1));

		sum += mode == 1 ? branchy_bucket(v) : mode == 2 ? irqlat_hist_bucket(v) : (unsigned int)v;
	}
	*state = x;
	__u32 k = sum % IRQLAT_HIST_BUCKETS;
	__u32 *slot = bpf_map_lookup_elem(&sink, &k);

	if (slot)
		*slot += 1;
	return XDP_PASS;
}
