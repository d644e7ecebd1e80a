// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * irqlat kernel side.
 *
 * - Interrupts (device IRQs, x86 vectors, softirqs): a per-CPU nesting stack
 *   turns entry/exit pairs into self (net) time, as osnoise does. Every
 *   interrupt is aggregated here into count/total/max and a log-linear
 *   histogram per slot and CPU (irq_stats, mmap-able). Only interrupts that
 *   run while a target thread is on the CPU are streamed, as EV_IRQ.
 * - Scheduler: events of target threads are streamed; switches on CPUs where a
 *   target waits are streamed too, so user space can name who held the CPU.
 * - Records go through one ring buffer without wakeups; user space drains on
 *   a timer, and a producer forces a wakeup only when the buffer fills past
 *   wakeup_bytes (a wakeup per record feeds back into the sched tracepoints).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>
#include "irqlat.h"
#include "compat.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Run-time settings, fixed before load (dead branches are removed). */
const volatile bool targ_all = false;      /* -a: every task but idle */
const volatile __u32 self_tgid = 0;        /* the collector is never a target */
const volatile __u32 nr_cpus = 1;
const volatile __u32 max_irq = 256;        /* device IRQs >= this share a slot */
const volatile bool filter_cpus = false;   /* -C: aggregate only these CPUs */
const volatile __u8 cpu_allowed[IRQLAT_MAX_CPUS] = {};
const volatile __u64 signal_mask = 0;      /* bit n: signal n opens a window */
const volatile __u64 wakeup_bytes = 1 << 20;
const volatile bool has_comm = false;      /* --comm: processes that exec it */
/* Stream every target's scheduler events (windows or `record`); otherwise
 * only targets flagged TARGET_STREAM are streamed, the rest accounted here. */
const volatile bool stream_all = false;
const volatile bool may_stream = true;     /* some target may be streamed */
const volatile bool use_task_storage = true; /* tp_btf mode; raw_tp uses acct_by_tid */
const volatile __u32 hot_mask = IRQLAT_HOT_SLOTS - 1; /* tests shrink it to force the fallback */
const volatile char targ_comm[IRQLAT_COMM_LEN] = {};

/* gate.on is set by user space once everything is attached and cleared
 * when it stops, so the counted interval has sharp edges: attaching and
 * detaching programs sends IPIs of its own, which must not be counted.
 * gate.bits: see struct task_gate. */
volatile struct task_gate gate;
/* Target threads that exited: their gate bits are stale from then on. */
volatile __u64 target_exits;

struct irq_frame {
	__u64 ts;
	__u64 child_ns; /* time of interrupts nested inside this one */
	__u32 id;
	__u32 kind;
};

/* The fields every interrupt reads come first: with frames[0] they share
 * one cache line, which interrupt context usually finds cold. */
struct cpu_state {
	__u32 depth;
	__u32 lost_depth;  /* entries beyond IRQLAT_MAX_DEPTH still open */
	__u32 cur_tid;     /* target thread on this CPU, 0 if none */
	__u32 cur_pid;
	struct irq_frame frames[IRQLAT_MAX_DEPTH];
	__u64 raise_ts[16]; /* indexed by vec & 15: keeps the verifier sure */
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* resized by the loader */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cpu_state);
} cpu_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kstats);
} kstats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct irqlat_batch);
} batches SEC(".maps");

/* slot * nr_cpus + cpu -> stats; sized by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct irq_stat);
} irq_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32); /* tid */
	__type(value, struct target_val);
} target_tids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32); /* tgid */
	__type(value, __u32); /* TARGET_* flags */
} target_tgids SEC(".maps");

/* Bit tid is set whenever tid is in target_tids (set after the insert,
 * cleared with the delete), so events of other tasks, most events, cost one
 * inlined array load instead of a hash lookup. User space sets and clears
 * bits through an mmap with atomic ops, like the BPF side. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, IRQLAT_TID_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} target_bits SEC(".maps");

/* Kernel-accounted threads: a hot slot (see IRQLAT_HOT_SLOTS), claimed at a
 * thread's first event and released at its exit (or when it stops being a
 * target). Threads whose slot is taken: tp_btf, task storage (freed with the
 * task); raw_tp programs have no BTF task pointer, so a tid hash. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE); /* page-aligned values (see struct thread_acct) */
	__uint(max_entries, IRQLAT_HOT_SLOTS);
	__type(key, __u32);
	__type(value, struct thread_acct);
} acct_hot SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct thread_acct);
} acct_store SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct thread_acct);
} acct_by_tid SEC(".maps");

/* Final accounts of exited threads, collected and deleted by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 16384);
	__type(key, struct exited_key);
	__type(value, struct thread_acct);
} exited_accts SEC(".maps");

/* A zeroed account: the initial value of acct_by_tid entries. */
const struct thread_acct acct_zero = {};

/* Per CPU: how many target threads wait on its runqueue. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, IRQLAT_MAX_CPUS);
	__type(key, __u32);
	__type(value, __u32);
} waiting SEC(".maps");

static __always_inline struct kstats *my_kstats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&kstats, &zero);
}

static __always_inline struct cpu_state *my_cpu(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&cpu_state, &zero);
}

static __always_inline struct irqlat_batch *my_batch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&batches, &zero);
}

/* Where a record being written goes: this CPU's batch, or (when a program
 * it interrupted holds the batch) straight into the ring buffer. */
struct rec_slot {
	struct irqlat_batch *b;
	__u32 size;
};

static __always_inline __u64 ring_flags(void)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);

	return avail >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* One ring record for the whole batch; the caller holds b->busy. */
static __always_inline void flush(struct irqlat_batch *b)
{
	__u32 len = b->len;

	if (len == 0 || len > IRQLAT_BATCH_BYTES)
		return;
	struct kstats *ks = my_kstats();
	long err = bpf_ringbuf_output(&events, b->data, len, ring_flags());

	if (ks) {
		if (err)
			ks->drops += b->count;
		else
			ks->records += b->count;
	}
	b->len = 0;
	b->count = 0;
}

/* Flushes a batch older than IRQLAT_BATCH_AGE_NS (or any, if force) unless
 * a program this one interrupted is appending to it. */
static __always_inline void flush_if_due(__u64 now, bool force)
{
	struct irqlat_batch *b = my_batch();

	if (!b || b->busy || b->len == 0)
		return;
	if (!force && now - b->first_ts < IRQLAT_BATCH_AGE_NS)
		return;
	b->busy = 1;
	barrier();
	flush(b);
	barrier();
	b->busy = 0;
}

static __always_inline void *reserve(__u32 size, struct rec_slot *s)
{
	struct irqlat_batch *b = my_batch();
	void *rec;

	s->b = NULL;
	s->size = size;
	/* Programs nest only by interruption, and an interrupting program runs
	 * to its end before the interrupted one resumes: claiming busy before
	 * reading len makes the batch safe without atomics. */
	if (b && !b->busy) {
		b->busy = 1;
		barrier();
		__u32 len = b->len;

		if (len > IRQLAT_BATCH_BYTES - size) {
			flush(b);
			len = 0;
		}
		if (len <= IRQLAT_BATCH_BYTES - size) {
			s->b = b;
			return b->data + len;
		}
		b->busy = 0;
	}
	rec = bpf_ringbuf_reserve(&events, size, 0);
	if (!rec) {
		struct kstats *ks = my_kstats();

		if (ks)
			ks->drops++;
	}
	return rec;
}

static __always_inline void submit(void *rec, struct rec_slot *s)
{
	struct irqlat_batch *b = s->b;

	if (!b) {
		struct kstats *ks = my_kstats();

		if (ks)
			ks->records++;
		bpf_ringbuf_submit(rec, ring_flags());
		return;
	}
	__u64 ts = ((struct ev_hdr *)rec)->ts;

	if (b->len == 0)
		b->first_ts = ts;
	b->len += s->size;
	b->count++;
	if (ts - b->first_ts >= IRQLAT_BATCH_AGE_NS || b->len > IRQLAT_BATCH_BYTES - 64)
		flush(b);
	barrier();
	b->busy = 0;
}

static __always_inline void fill_hdr(struct ev_hdr *h, __u64 ts, __u32 tid, __u8 type)
{
	h->ts = ts;
	h->tid = tid;
	h->cpu = bpf_get_smp_processor_id();
	h->type = type;
	h->flags = 0;
}

/* Is tid a target? In -a mode every task but idle and ourselves is. */
static __always_inline bool is_target(__u32 tid, __u32 tgid, struct target_val **tv)
{
	*tv = NULL;
	if (tid == 0)
		return false;
	if (targ_all)
		return tgid != self_tgid;
	__u32 w = tid / 64;
	__u64 *word = bpf_map_lookup_elem(&target_bits, &w);

	if (!word || !(*word & (1ULL << (tid % 64))))
		return false;
	*tv = bpf_map_lookup_elem(&target_tids, &tid);
	return *tv != NULL;
}

/* The gate's bit for task t. A 32-bit move makes the pointer a number,
 * which the verifier allows programs loaded with CAP_PERFMON (arithmetic on
 * the pointer itself it refuses). Hence the asm: left to itself the compiler
 * multiplies the pointer's register in place, or reloads a spilled pointer's
 * low half with a 32-bit stack load, which the verifier refuses too. The
 * input is the whole 64-bit pointer. The low half of the address is plenty
 * to tell tasks apart here. */
static __always_inline __u32 gate_index(const void *t)
{
	__u64 lo;

	asm volatile("r1 = %[t]; w1 = w1; %[lo] = r1" : [lo] "=r"(lo) : [t] "r"(t) : "r1");
	__u32 h = (__u32)lo * 0x9E3779B1u;

	return ((__u64)h * IRQLAT_GATE_BITS) >> 32;
}

/* False: task t is no target (true may still be no target: see candidate()). */
static __always_inline bool gate_open(const void *t)
{
	if (targ_all)
		return true;
	__u32 i = gate_index(t);

	return gate.bits[gate.gen & 1][i / 64] & (1ULL << (i % 64));
}

/* Only a clear bit is written: every program reads this line first, and a
 * write would take it from every other CPU's cache. */
static __always_inline void gate_add(const void *t)
{
	__u32 i = gate_index(t);
	__u64 bit = 1ULL << (i % 64);

	if (!(gate.bits[0][i / 64] & bit))
		__sync_fetch_and_or(&gate.bits[0][i / 64], bit);
	if (!(gate.bits[1][i / 64] & bit))
		__sync_fetch_and_or(&gate.bits[1][i / 64], bit);
}

/* A target_tids entry of a streamed thread (NULL: -a mode, no entries). */
static __always_inline bool streamed(struct target_val *tv)
{
	return stream_all || (tv && (tv->flags & TARGET_STREAM));
}

/* A target (is_target) that is accounted in the kernel. */
static __always_inline bool accounted(struct target_val *tv)
{
	if (stream_all)
		return false;
	return targ_all || (tv && !(tv->flags & TARGET_STREAM));
}

static __always_inline bool target_bit(__u32 tid)
{
	__u32 w = tid / 64;
	__u64 *word = bpf_map_lookup_elem(&target_bits, &w);

	return word && (*word & (1ULL << (tid % 64)));
}

/* Whether classify() may find tid a target: with -a every task may be. */
static __always_inline bool candidate(__u32 tid)
{
	return targ_all || target_bit(tid);
}

/* irqlat_hist_bucket(v) as an index the verifier can bound: the branch-free
 * log2 leaves it no range to infer, so the clamp (which never fires) says it. */
static __always_inline __u32 hist_index(__u64 v)
{
	__u32 b = irqlat_hist_bucket(v);

	return b < IRQLAT_HIST_BUCKETS ? b : IRQLAT_HIST_BUCKETS - 1;
}

/* ------------------------------------------------- kernel accounting */

enum target_kind { T_NONE = 0, T_STREAM, T_ACCT };

static __always_inline void acct_failed(void)
{
	struct kstats *ks = my_kstats();

	if (ks)
		ks->acct_failed++;
}

static __always_inline struct thread_acct *hot_slot(__u32 tid)
{
	__u32 k = tid & hot_mask & (IRQLAT_HOT_SLOTS - 1);

	return bpf_map_lookup_elem(&acct_hot, &k);
}

/* The account of a kernel-accounted thread, or NULL. */
static __always_inline struct thread_acct *acct_lookup(struct task_struct *t, __u32 tid,
							 const bool btf)
{
	struct thread_acct *a = hot_slot(tid);

	if (a && a->tid == tid)
		return a;
	if (btf)
		return bpf_task_storage_get(&acct_store, t, 0, 0);
	return bpf_map_lookup_elem(&acct_by_tid, &tid);
}

/* Frees tid's hot slot, if it holds one: everything but tid is zeroed
 * first, then tid, so a thread claiming the slot meanwhile on another CPU
 * never has its fresh account overwritten. */
static __always_inline void hot_release(__u32 tid)
{
	struct thread_acct *a = hot_slot(tid);

	if (!a || a->tid != tid)
		return;
	bpf_probe_read_kernel((char *)a + sizeof(a->tid), sizeof(*a) - sizeof(a->tid),
			      (const char *)&acct_zero + sizeof(a->tid));
	barrier();
	a->tid = 0;
}

/* A new account, UNKNOWN until its first event says more. */
static __always_inline struct thread_acct *acct_create(struct task_struct *t, __u32 tid,
							 __u32 tgid, __u32 flags,
							 const bool btf)
{
	struct thread_acct *a;

	/* A task first seen on its way out (or its last switch after its exit
	 * was booked) has nothing to account: that is no loss. */
	if (RD(btf, t, flags) & 0x00000004 /* PF_EXITING */)
		return NULL;
	a = hot_slot(tid);
	if (a && a->tid != tid && !__sync_bool_compare_and_swap(&a->tid, 0, tid))
		a = NULL; /* held by another thread */
	if (!a) {
		if (btf) {
			a = bpf_task_storage_get(&acct_store, t, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		} else {
			bpf_map_update_elem(&acct_by_tid, &tid, &acct_zero, BPF_NOEXIST);
			a = bpf_map_lookup_elem(&acct_by_tid, &tid);
		}
	}
	if (!a) {
		acct_failed();
		return NULL;
	}
	if (a->created_ns == 0) {
		a->tid = tid;
		a->pid = tgid;
		a->flags = flags;
		a->created_ns = a->since = bpf_ktime_get_ns();
	}
	return a;
}

/*
 * What a task is to us: not a target, a streamed target (tv set when it has
 * a target_tids entry), or a kernel-accounted one (acct set). Non-targets,
 * most tasks, cost one array load; accounted targets one task-storage load.
 * `bit` is candidate(tid), read once by the caller, which has usually
 * returned already when it is false.
 */
static __always_inline int classify(struct task_struct *t, __u32 tid, __u32 tgid, bool bit,
				    struct target_val **tv, struct thread_acct **acct,
				    const bool btf)
{
	*tv = NULL;
	*acct = NULL;
	if (tid == 0 || !bit)
		return T_NONE;
	if (targ_all) {
		if (tgid == self_tgid)
			return T_NONE;
		if (stream_all)
			return T_STREAM;
		*acct = acct_lookup(t, tid, btf);
		if (!*acct)
			*acct = acct_create(t, tid, tgid, 0, btf);
		return *acct ? T_ACCT : T_NONE;
	}
	if (!stream_all) {
		*acct = acct_lookup(t, tid, btf);
		if (*acct)
			return T_ACCT;
	}
	*tv = bpf_map_lookup_elem(&target_tids, &tid);
	if (!*tv)
		return T_NONE;
	if (stream_all || ((*tv)->flags & TARGET_STREAM))
		return T_STREAM;
	*acct = acct_create(t, tid, tgid, (*tv)->flags, btf);
	return *acct ? T_ACCT : T_NONE;
}

/* Books the time since a->since to the current state. */
static __always_inline void acct_book(struct thread_acct *a, __u64 now)
{
	if (now <= a->since)
		return;
	if (a->state == TS_RUNNING)
		a->oncpu_ns += now - a->since;
	else if (a->state == TS_RUNNABLE)
		a->runqueue_ns += now - a->since;
	a->since = now;
}

static __always_inline void acct_switch_out(struct thread_acct *a, bool runnable, __u64 now)
{
	if (a->state == TS_DEAD)
		return;
	acct_book(a, now);
	if (runnable) {
		a->preemptions++;
		a->state = TS_RUNNABLE;
	} else {
		a->state = TS_BLOCKED;
	}
	a->woken = 0; /* a preempted thread's wait is runqueue time, not a wakeup latency */
}

static __always_inline void acct_switch_in(struct thread_acct *a, __u64 now)
{
	if (a->state == TS_DEAD)
		return;
	acct_book(a, now);
	if (a->state == TS_RUNNABLE && a->woken) {
		__u64 lat = now - a->wake_ts;

		a->hist[hist_index(lat)]++;
		a->sched_total_ns += lat;
		if (lat > a->sched_max_ns)
			a->sched_max_ns = lat;
	}
	a->state = TS_RUNNING;
	a->run_start = now;
	a->woken = 0;
}

/* sched_waking: BLOCKED -> RUNNABLE is a wakeup. A thread never seen
 * blocking (asleep since before tracing) is one too when the kernel says it
 * was asleep (was_blocked); otherwise it is RUNNABLE from now without a
 * latency sample. */
static __always_inline void acct_waking(struct thread_acct *a, __u64 now, bool was_blocked)
{
	if (a->state == TS_BLOCKED || (a->state == TS_UNKNOWN && was_blocked)) {
		acct_book(a, now);
		a->wakeups++;
		a->state = TS_RUNNABLE;
		a->woken = 1;
		a->wake_ts = now;
	} else if (a->state == TS_UNKNOWN) {
		acct_book(a, now);
		a->state = TS_RUNNABLE;
	}
}

/* The current task's account when it is a kernel-accounted target. */
static __always_inline struct thread_acct *acct_current(const bool btf)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;

	if (tid == 0)
		return NULL;
	if (targ_all) {
		if ((id >> 32) == self_tgid)
			return NULL;
	} else if (!target_bit(tid)) {
		return NULL;
	}
	struct thread_acct *a = hot_slot(tid);

	if (a && a->tid == tid)
		return a;
	if (btf)
		return bpf_task_storage_get(&acct_store, bpf_get_current_task_btf(), 0, 0);
	return bpf_map_lookup_elem(&acct_by_tid, &tid);
}

static __always_inline void set_target_bit(__u32 tid, bool on)
{
	__u32 w = tid / 64;
	__u64 *word = bpf_map_lookup_elem(&target_bits, &w);

	if (!word)
		return;
	if (on)
		__sync_fetch_and_or(word, 1ULL << (tid % 64));
	else
		__sync_fetch_and_and(word, ~(1ULL << (tid % 64)));
}

static __always_inline void waiting_add(int cpu, int delta)
{
	__u32 key = cpu;
	__u32 *n = bpf_map_lookup_elem(&waiting, &key);

	if (!n)
		return;
	if (delta > 0)
		__sync_fetch_and_add(n, 1);
	else if (*n > 0)
		__sync_fetch_and_add(n, -1);
}

/* The thread waits on cpu's runqueue from now (no-op if it already does). */
static __always_inline void wait_on(struct target_val *tv, int cpu)
{
	if (!tv || tv->wait_cpu == cpu)
		return;
	if (tv->wait_cpu >= 0)
		waiting_add(tv->wait_cpu, -1);
	tv->wait_cpu = cpu;
	waiting_add(cpu, 1);
}

static __always_inline void wait_done(struct target_val *tv)
{
	if (!tv || tv->wait_cpu < 0)
		return;
	waiting_add(tv->wait_cpu, -1);
	tv->wait_cpu = -1;
}

/* ---------------------------------------------------------------- sched */

/* The switch record: the collector's timeline needs every switch on a CPU
 * where a target runs or waits (a waiting target is charged to whichever
 * task holds its CPU, named here). */
static __always_inline void emit_switch(unsigned long long *ctx, __u32 prev_tid, __u32 prev_pid,
					__u32 next_tid, __u32 next_pid, bool prev_runnable,
					bool pt, bool nt, const bool btf)
{
	struct task_struct *next = (void *)ctx[2];
	struct rec_slot slot;
	struct ev_switch *e = reserve(sizeof(*e), &slot);

	if (!e)
		return;
	fill_hdr(&e->h, bpf_ktime_get_ns(), prev_tid, EV_SWITCH);
	e->prev_pid = prev_pid;
	e->next_tid = next_tid;
	e->next_pid = next_pid;
	e->prev_runnable = prev_runnable;
	e->prev_target = pt;
	e->next_target = nt;
	e->pad = 0;
	if (btf)  /* a trusted BTF pointer: plain loads, no helper call */
		__builtin_memcpy(e->next_comm, next->comm, sizeof(e->next_comm));
	else
		bpf_probe_read_kernel(e->next_comm, sizeof(e->next_comm), &next->comm);
	submit(e, &slot);
}

/* The tracepoint's prev_state hides preemptions; a preempted or yielding
 * task is still runnable whatever its __state says. */
static __always_inline bool prev_is_runnable(unsigned long long *ctx, const bool btf)
{
	return (bool)ctx[0] || task_state((void *)ctx[1], btf) == 0;
}

/* Going idle: nothing may run here for long, so no later event would
 * flush the batch. */
static __always_inline void flush_if_idle(__u32 next_tid)
{
	if (may_stream && next_tid == 0)
		flush_if_due(0, true);
}

/* A switch where prev or next may be a target (pbit, nbit: candidate()). */
static __always_inline int switch_targeted(unsigned long long *ctx, __u32 prev_tid, bool pbit,
					   __u32 next_tid, bool nbit, const bool btf)
{
	struct task_struct *prev = (void *)ctx[1], *next = (void *)ctx[2];
	__u32 cpu = bpf_get_smp_processor_id();
	__u32 prev_pid = RD(btf, prev, tgid), next_pid = RD(btf, next, tgid);
	struct target_val *ptv, *ntv;
	struct thread_acct *pa, *na;
	bool pt = classify(prev, prev_tid, prev_pid, pbit, &ptv, &pa, btf) == T_STREAM;
	bool nt = classify(next, next_tid, next_pid, nbit, &ntv, &na, btf) == T_STREAM;
	bool prev_runnable = false;
	__u32 *nwait = NULL;

	__u64 now = 0;

	/* (Separate tests: the verifier refuses `pa || na` merged into an OR.) */
	if (pa) {
		now = bpf_ktime_get_ns();
		prev_runnable = prev_is_runnable(ctx, btf);
		acct_switch_out(pa, prev_runnable, now);
	}
	if (na) {
		if (!now)
			now = bpf_ktime_get_ns();
		acct_switch_in(na, now);
	}
	if (may_stream) {
		struct cpu_state *cs = my_cpu();

		if (cs) {
			cs->cur_tid = nt ? next_tid : 0;
			cs->cur_pid = nt ? next_pid : 0;
		}
		nwait = targ_all ? NULL : bpf_map_lookup_elem(&waiting, &cpu);
	}
	if (!pt && !nt && !(nwait && *nwait)) {
		flush_if_idle(next_tid);
		return 0;
	}

	if (!pa)
		prev_runnable = prev_is_runnable(ctx, btf);
	if (pt && prev_runnable)
		wait_on(ptv, cpu);
	if (nt)
		wait_done(ntv);
	emit_switch(ctx, prev_tid, prev_pid, next_tid, next_pid, prev_runnable, pt, nt, btf);
	flush_if_idle(next_tid);
	return 0;
}

/* Most switches concern no target: the gate, then two bitmap words, decide
 * that before anything else is read or spilled (the general path runs three
 * times the instructions). Such a switch still leaves this CPU without a target, and
 * is streamed when a target waits here, to name the task it waits behind. */
static __always_inline int on_switch(unsigned long long *ctx, const bool btf)
{
	struct task_struct *prev = (void *)ctx[1], *next = (void *)ctx[2];
	bool pgate = gate_open(prev), ngate = gate_open(next);

	if (pgate || ngate) {
		__u32 prev_tid = RD(btf, prev, pid), next_tid = RD(btf, next, pid);
		bool pbit = pgate && candidate(prev_tid), nbit = ngate && candidate(next_tid);

		/* A zombie's final switch-out is no target's: after an exec from
		 * another thread, de_thread() may give the exited main thread
		 * the exec'ing one's old tid, a target until sched_process_exec. */
		if (pbit && !targ_all && RD(btf, prev, exit_state))
			pbit = false;
		if (pbit || nbit)
			return switch_targeted(ctx, prev_tid, pbit, next_tid, nbit, btf);
	}
	if (!may_stream)
		return 0;

	__u32 prev_tid = RD(btf, prev, pid), next_tid = RD(btf, next, pid);
	struct cpu_state *cs = my_cpu();
	__u32 cpu = bpf_get_smp_processor_id();
	__u32 *nwait = bpf_map_lookup_elem(&waiting, &cpu);

	if (cs) {
		cs->cur_tid = 0;
		cs->cur_pid = 0;
	}
	if (nwait && *nwait)
		emit_switch(ctx, prev_tid, RD(btf, prev, tgid), next_tid, RD(btf, next, tgid),
			    prev_is_runnable(ctx, btf), false, false, btf);
	flush_if_idle(next_tid);
	return 0;
}
IRQLAT_TRACEPOINT(sched_switch, on_switch)

/* At sched_waking: p switched out asleep and has not run since. It is off
 * its runqueue, or (EEVDF's delayed dequeue, 6.12+) still on it but marked
 * sched_delayed; a task preempted on its way to sleep is neither. */
static __always_inline bool was_blocked(struct task_struct *p, const bool btf)
{
	if (RD(btf, p, on_rq) == 0)
		return true;
	if (bpf_core_field_exists(p->se.sched_delayed))
		return RD(btf, p, se.sched_delayed) != 0;
	return false;
}

static __always_inline int emit_wake(struct task_struct *p, __u8 type, const bool btf)
{
	struct target_val *tv;
	struct thread_acct *a;
	struct ev_wake *e;
	__u64 id;

	if (!gate_open(p))
		return 0;
	__u32 tid = RD(btf, p, pid);

	if (!candidate(tid))
		return 0;  /* not a target: classify() would say T_NONE */
	__u32 pid = RD(btf, p, tgid);
	int kind = classify(p, tid, pid, true, &tv, &a, btf);

	if (a) {
		__u64 now = bpf_ktime_get_ns();

		if (type == EV_WAKING) {
			acct_waking(a, now, a->state == TS_UNKNOWN && was_blocked(p, btf));
		} else if (a->state == TS_UNKNOWN || a->state == TS_BLOCKED) {
			acct_book(a, now);
			a->state = TS_RUNNABLE;
		}
		return 0;
	}
	if (kind != T_STREAM)
		return 0;
	struct rec_slot slot;

	e = reserve(sizeof(*e), &slot);
	if (!e)
		return 0;
	id = bpf_get_current_pid_tgid();
	fill_hdr(&e->h, bpf_ktime_get_ns(), tid, type);
	if (type == EV_WAKING && was_blocked(p, btf))
		e->h.flags = EV_F_WAS_BLOCKED;
	e->pid = pid;
	e->target_cpu = task_cpu_of(p, btf);
	e->waker_tid = (__u32)id;
	e->waker_pid = id >> 32;
	submit(e, &slot);
	return 0;
}

/* Runnable from sched_waking: that is where scheduling latency starts. */
static __always_inline int on_waking(unsigned long long *ctx, const bool btf)
{
	return emit_wake((void *)ctx[0], EV_WAKING, btf);
}
IRQLAT_TRACEPOINT(sched_waking, on_waking)

static __always_inline int on_wakeup_new(unsigned long long *ctx, const bool btf)
{
	struct task_struct *p = (void *)ctx[0];
	struct target_val *tv;

	if (may_stream && gate_open(p) && is_target(RD(btf, p, pid), RD(btf, p, tgid), &tv) &&
	    streamed(tv))
		wait_on(tv, task_cpu_of(p, btf));
	return emit_wake(p, EV_WAKEUP_NEW, btf);
}
IRQLAT_TRACEPOINT(sched_wakeup_new, on_wakeup_new)

/* sched_wakeup: the task is now queued on its final CPU (unless it never
 * left the CPU). Only bookkeeping for the per-CPU waiting counts. */
static __always_inline int on_wakeup(unsigned long long *ctx, const bool btf)
{
	struct task_struct *p = (void *)ctx[0];
	struct target_val *tv;

	if (targ_all || !may_stream || !gate_open(p))
		return 0;
	if (!is_target(RD(btf, p, pid), RD(btf, p, tgid), &tv) || !streamed(tv))
		return 0;
	if (RD(btf, p, on_cpu) == 0)
		wait_on(tv, task_cpu_of(p, btf));
	return 0;
}
IRQLAT_TRACEPOINT(sched_wakeup, on_wakeup)

static __always_inline int on_migrate(unsigned long long *ctx, const bool btf)
{
	struct task_struct *p = (void *)ctx[0];
	int dest = (int)ctx[1];
	struct target_val *tv;
	struct thread_acct *a;
	struct ev_migrate *e;

	if (!may_stream || !gate_open(p))
		return 0;
	__u32 tid = RD(btf, p, pid), pid = RD(btf, p, tgid);

	if (classify(p, tid, pid, candidate(tid), &tv, &a, btf) != T_STREAM)
		return 0;
	if (tv && tv->wait_cpu >= 0)
		wait_on(tv, dest);
	struct rec_slot slot;

	e = reserve(sizeof(*e), &slot);
	if (!e)
		return 0;
	fill_hdr(&e->h, bpf_ktime_get_ns(), tid, EV_MIGRATE);
	e->pid = pid;
	e->orig_cpu = task_cpu_of(p, btf);
	e->dest_cpu = dest;
	e->pad = 0;
	submit(e, &slot);
	return 0;
}
IRQLAT_TRACEPOINT(sched_migrate_task, on_migrate)

static __always_inline void emit_task(__u8 type, __u8 flags, __u32 tid, __u32 pid,
				      __u32 parent_tid, __u32 parent_pid, const char *comm)
{
	struct rec_slot slot;
	struct ev_task *e = reserve(sizeof(*e), &slot);

	if (!e)
		return;
	fill_hdr(&e->h, bpf_ktime_get_ns(), tid, type);
	e->h.flags = flags;
	e->pid = pid;
	e->parent_tid = parent_tid;
	e->parent_pid = parent_pid;
	e->pad = 0;
	bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), comm);
	submit(e, &slot);
}

static __always_inline void add_target(const void *task, __u32 tid, __u32 pid, __u32 flags)
{
	struct target_val tv = { .pid = pid, .flags = flags, .wait_cpu = -1 };

	bpf_map_update_elem(&target_tids, &tid, &tv, BPF_NOEXIST);
	set_target_bit(tid, true);
	gate_add(task);
}

/* New threads of followed processes, and children when asked, are targets. */
static __always_inline int on_fork(unsigned long long *ctx, const bool btf)
{
	struct task_struct *parent = (void *)ctx[0], *child = (void *)ctx[1];
	__u32 ptid = RD(btf, parent, pid), ppid = RD(btf, parent, tgid);
	__u32 ctid = RD(btf, child, pid), cpid = RD(btf, child, tgid);
	struct target_val *ptv;
	__u32 *pflags, flags;

	/* raw_tp: an account left by an exited thread with this tid is stale. */
	if (!btf && !stream_all)
		bpf_map_delete_elem(&acct_by_tid, &ctid);
	if (targ_all) {
		if (cpid != self_tgid)
			emit_task(EV_FORK, stream_all ? 0 : EV_F_KACCT, ctid, cpid, ptid, ppid,
				  child->comm);
		return 0;
	}
	if (cpid == ppid) {
		pflags = bpf_map_lookup_elem(&target_tgids, &ppid);
		if (!pflags || !(*pflags & TARGET_FOLLOW_THREADS))
			return 0;
		flags = *pflags;
	} else {
		if (!is_target(ptid, ppid, &ptv) || !ptv || !(ptv->flags & TARGET_FOLLOW_CHILDREN))
			return 0;
		flags = ptv->flags;
		bpf_map_update_elem(&target_tgids, &cpid, &flags, BPF_ANY);
	}
	add_target(child, ctid, cpid, flags);
	bool acct = !stream_all && !(flags & TARGET_STREAM);

	if (acct)
		acct_create(child, ctid, cpid, flags, btf);
	emit_task(EV_FORK, acct ? EV_F_KACCT : 0, ctid, cpid, ptid, ppid, child->comm);
	return 0;
}
IRQLAT_TRACEPOINT(sched_process_fork, on_fork)

static __always_inline bool comm_matches(const char *comm)
{
	char buf[IRQLAT_COMM_LEN];

	bpf_probe_read_kernel_str(buf, sizeof(buf), comm);
	for (int i = 0; i < IRQLAT_COMM_LEN; i++) {
		if (buf[i] != targ_comm[i])
			return false;
		if (buf[i] == 0)
			return true;
	}
	return true;
}

/* Ends a live account as tid's exit at now: booked, marked dead (a final
 * switch-out is not its time) and copied to exited_accts for user space.
 * keep_comm: keep a comm the iterator read (at exec, p's is the new one). */
static __always_inline void acct_close(struct thread_acct *a, __u32 tid, __u32 pid, __u64 now,
				       struct task_struct *p, bool keep_comm)
{
	struct exited_key k = { .tid = tid, .pid = pid, .exit_ns = now };

	if (a->state == TS_DEAD)
		return;
	acct_book(a, now);
	a->state = TS_DEAD;
	if (!keep_comm || !a->comm[0])
		bpf_probe_read_kernel_str(a->comm, sizeof(a->comm), p->comm);
	if (bpf_map_update_elem(&exited_accts, &k, a, BPF_NOEXIST))
		acct_failed();
}

/*
 * A thread other than the leader that execs takes the leader's tid, the
 * process id (the kernel's de_thread(); the leader has exited by then and
 * its exit forgot tid == pid). Its target entry moves from the old tid to
 * the new one. An account kept under the old tid ends there like an exit
 * (its final account goes to exited_accts), so nothing it counted is lost
 * and no account is left keyed by a tid the task no longer has; the first
 * event under the new tid starts a fresh one.
 */
static __always_inline void exec_renumbered(struct task_struct *p, __u32 old_tid, __u32 tid,
					    __u32 pid, const bool btf)
{
	struct target_val v = {};
	bool target = targ_all;

	if (may_stream) {
		/* This CPU's interrupts are charged to it until its next switch. */
		struct cpu_state *cs = my_cpu();

		if (cs && cs->cur_tid == old_tid)
			cs->cur_tid = tid;
	}
	if (!targ_all) {
		struct target_val *old = bpf_map_lookup_elem(&target_tids, &old_tid);

		if (old) {
			v = *old;
			target = true;
			bpf_map_delete_elem(&target_tids, &old_tid);
			set_target_bit(old_tid, false);
			bpf_map_update_elem(&target_tids, &tid, &v, BPF_ANY);
			set_target_bit(tid, true);
		}
	}
	if (stream_all)
		return;
	struct thread_acct *a = acct_lookup(p, old_tid, btf);
	__u64 now = bpf_ktime_get_ns();

	if (target && a && a->tid == old_tid)
		acct_close(a, old_tid, pid, now, p, true);
	/* Released even when it is no target any more (detached, its account
	 * not reaped yet): no later dump finds it under the old tid. */
	hot_release(old_tid);
	if (btf) {
		bpf_task_storage_delete(&acct_store, p);
	} else {
		bpf_map_delete_elem(&acct_by_tid, &old_tid);
		/* The main thread's account, final already (exited_accts): raw_tp
		 * entries are cleared only at fork, and this tid came by exec. */
		bpf_map_delete_elem(&acct_by_tid, &tid);
	}
	/* It goes on under the new tid, on this CPU from now, as the streamed
	 * timeline has it (not from its first event). */
	if (target && (targ_all || !(v.flags & TARGET_STREAM))) {
		a = acct_create(p, tid, pid, v.flags, btf);
		if (a)
			acct_switch_in(a, now);
	}
}

static __always_inline int on_exec(unsigned long long *ctx, const bool btf)
{
	struct task_struct *p = (void *)ctx[0];
	__u32 tid = RD(btf, p, pid), pid = RD(btf, p, tgid);
	__u32 old_tid = (__u32)ctx[1];
	struct target_val *tv;

	if (old_tid != tid)
		exec_renumbered(p, old_tid, tid, pid, btf);
	if (has_comm && !targ_all && comm_matches(p->comm)) {
		__u32 flags = TARGET_FOLLOW_THREADS;

		bpf_map_update_elem(&target_tgids, &pid, &flags, BPF_ANY);
		add_target(p, tid, pid, flags);
	}
	/* Accounted threads have no timeline in user space to tell. */
	if (is_target(tid, pid, &tv) && !accounted(tv))
		emit_task(EV_EXEC, 0, tid, pid, old_tid, 0, p->comm);
	return 0;
}
IRQLAT_TRACEPOINT(sched_process_exec, on_exec)

static __always_inline int on_exit(unsigned long long *ctx, const bool btf)
{
	struct task_struct *p = (void *)ctx[0];
	__u32 tid = RD(btf, p, pid), pid = RD(btf, p, tgid);
	struct target_val *tv;
	bool group_dead;

	if (!is_target(tid, pid, &tv)) {
		hot_release(tid); /* a thread that stopped being a target */
		return 0;
	}
	/* signal->live is already decremented: 0 means the last thread. */
	group_dead = BPF_CORE_READ(p, signal, live.counter) == 0;
	bool acct = accounted(tv);

	if (acct) {
		struct thread_acct *a = acct_lookup(p, tid, btf);

		if (a && a->state != TS_DEAD)
			acct_close(a, tid, pid, bpf_ktime_get_ns(), p, false);
		hot_release(tid);
	}
	emit_task(EV_EXIT, (group_dead ? EV_F_GROUP_DEAD : 0) | (acct ? EV_F_KACCT : 0), tid, pid,
		  0, 0, p->comm);
	if (targ_all)
		return 0;
	wait_done(tv);
	/* Forget the tid (and tgid): a reused PID is not a target. */
	bpf_map_delete_elem(&target_tids, &tid);
	set_target_bit(tid, false);
	__sync_fetch_and_add(&target_exits, 1);
	if (group_dead)
		bpf_map_delete_elem(&target_tgids, &pid);
	return 0;
}
IRQLAT_TRACEPOINT(sched_process_exit, on_exit)

/* ----------------------------------------------------------- interrupts */

/* Pushes a frame stamped now; returns the stamp (0 if nothing was pushed). */
static __always_inline __u64 irq_enter(struct cpu_state *cs, __u32 kind, __u32 id)
{
	/* The clock first: its read is ordered (lfence) after every earlier
	 * load, so reading it after this CPU's cold state would wait for it. */
	__u64 now = bpf_ktime_get_ns();
	__u32 d;

	if (!cs)
		return 0;
	d = cs->depth;
	/*
	 * Hard interrupts run with interrupts off and softirqs never nest, so
	 * the only real nesting is a hardirq/vector inside a softirq. Anything
	 * else on the stack lost its exit (e.g. the exit program was attached
	 * after the entry fired): drop it rather than charge it for seconds.
	 */
	if (d > 0) {
		__u32 keep = (kind != IRQ_KIND_SOFTIRQ && cs->frames[0].kind == IRQ_KIND_SOFTIRQ) ? 1 : 0;

		if (d > keep) {
			struct kstats *ks = my_kstats();

			if (ks)
				ks->irq_unmatched += d - keep;
			d = keep;
			cs->depth = d;
		}
	}
	if (d >= IRQLAT_MAX_DEPTH) {
		struct kstats *ks = my_kstats();

		cs->lost_depth++;
		if (ks)
			ks->irq_overflow++;
		return 0;
	}
	cs->frames[d].ts = now;
	cs->frames[d].child_ns = 0;
	cs->frames[d].id = id;
	cs->frames[d].kind = kind;
	cs->depth = d + 1;
	return now;
}

static __always_inline __u32 slot_of(__u32 kind, __u32 id)
{
	if (kind == IRQ_KIND_SOFTIRQ)
		return IRQLAT_SLOT_SOFTIRQ(id);
	if (kind == IRQ_KIND_VECTOR)
		return IRQLAT_SLOT_VECTOR(id);
	return IRQLAT_SLOT_HARDIRQ0 + (id < max_irq ? id : max_irq);
}

/* Pops the frame, charges self time, streams it when a target was hit. */
static __always_inline void irq_exit(__u32 kind, __u32 id, struct irqaction *action,
				     const bool btf)
{
	__u64 now = bpf_ktime_get_ns();
	struct cpu_state *cs = my_cpu();
	struct irq_stat *st;
	__u64 dur, net;
	__u32 d, cpu, key;

	if (!cs)
		return;
	if (cs->lost_depth) {
		cs->lost_depth--;
		return;
	}
	d = cs->depth;
	if (d == 0 || d > IRQLAT_MAX_DEPTH || cs->frames[d - 1].kind != kind ||
	    cs->frames[d - 1].id != id) {
		/* Entered before we attached, or an event was missed: resync. */
		struct kstats *ks = my_kstats();

		if (ks)
			ks->irq_unmatched++;
		cs->depth = 0;
		return;
	}
	dur = now - cs->frames[d - 1].ts;
	net = dur > cs->frames[d - 1].child_ns ? dur - cs->frames[d - 1].child_ns : 0;
	cs->depth = d - 1;
	if (d >= 2)
		cs->frames[d - 2].child_ns += dur;

	/* Interrupts (the timer tick at least) keep batches from going stale
	 * on a CPU that runs a target without scheduler events. */
	if (may_stream)
		flush_if_due(now, false);
	cpu = bpf_get_smp_processor_id();
	if (filter_cpus && !cpu_allowed[cpu & (IRQLAT_MAX_CPUS - 1)])
		return;
	key = slot_of(kind, id) * nr_cpus + cpu;
	st = bpf_map_lookup_elem(&irq_stats, &key);
	if (st) {
		st->count++;
		st->total_ns += net;
		if (net > st->max_ns)
			st->max_ns = net;
		st->hist[hist_index(net)] += 1;
		/* The name once, on a slot's first count (user space never zeroes it). */
		if (action && st->count == 1 && st->name[0] == 0) {
			const char *name = BPF_CORE_READ(action, name);

			bpf_probe_read_kernel_str(st->name, sizeof(st->name), name);
		}
	}
	if (!stream_all) {
		/* The interrupted task, if it is a kernel-accounted target. */
		struct thread_acct *a = acct_current(btf);

		if (a && a->state == TS_RUNNING) {
			__u64 from = now - dur > a->run_start ? now - dur : a->run_start;
			__u64 ns = now - from < net ? now - from : net;

			if (kind == IRQ_KIND_SOFTIRQ)
				a->softirq_ns += ns;
			else
				a->hardirq_ns += ns;
			if (st) {
				st->target_hits++;
				st->target_stolen_ns += ns;
			}
		}
	}
	if (may_stream && cs->cur_tid) {
		struct rec_slot slot;
		struct ev_irq *e = reserve(sizeof(*e), &slot);

		if (!e)
			return;
		fill_hdr(&e->h, now, cs->cur_tid, EV_IRQ);
		e->pid = cs->cur_pid;
		e->id = id;
		e->start_ts = now - dur;
		e->net_ns = net;
		e->kind = kind;
		__builtin_memset(e->pad, 0, sizeof(e->pad));
		submit(e, &slot);
	}
}

static __always_inline int on_irq_entry(unsigned long long *ctx, const bool btf)
{
	irq_enter(my_cpu(), IRQ_KIND_HARDIRQ, (__u32)ctx[0]);
	return 0;
}
IRQLAT_TRACEPOINT(irq_handler_entry, on_irq_entry)

static __always_inline int on_irq_exit(unsigned long long *ctx, const bool btf)
{
	irq_exit(IRQ_KIND_HARDIRQ, (__u32)ctx[0], (struct irqaction *)ctx[1], btf);
	return 0;
}
IRQLAT_TRACEPOINT(irq_handler_exit, on_irq_exit)

static __always_inline int on_softirq_raise(unsigned long long *ctx, const bool btf)
{
	__u32 vec = (__u32)ctx[0];
	struct cpu_state *cs = my_cpu();

	if (cs && vec < IRQLAT_NR_SOFTIRQS && cs->raise_ts[vec & 15] == 0)
		cs->raise_ts[vec & 15] = bpf_ktime_get_ns();
	return 0;
}
IRQLAT_TRACEPOINT(softirq_raise, on_softirq_raise)

static __always_inline int on_softirq_entry(unsigned long long *ctx, const bool btf)
{
	__u32 vec = (__u32)ctx[0];
	struct cpu_state *cs = my_cpu();
	/* One clock read serves the frame and the raise -> entry wait. */
	__u64 now = irq_enter(cs, IRQ_KIND_SOFTIRQ, vec);

	if (!cs || vec >= IRQLAT_NR_SOFTIRQS || cs->raise_ts[vec & 15] == 0)
		return 0;
	if (!now)
		now = bpf_ktime_get_ns();

	/* raise -> entry: how long the softirq waited to run. */
	__u64 wait = now - cs->raise_ts[vec & 15];
	__u32 cpu = bpf_get_smp_processor_id();
	__u32 key = IRQLAT_SLOT_SOFTIRQ(vec) * nr_cpus + cpu;
	struct irq_stat *st = bpf_map_lookup_elem(&irq_stats, &key);

	cs->raise_ts[vec & 15] = 0;
	if (!st || (filter_cpus && !cpu_allowed[cpu & (IRQLAT_MAX_CPUS - 1)]))
		return 0;
	st->raise_count++;
	st->raise_wait_ns += wait;
	if (wait > st->raise_wait_max)
		st->raise_wait_max = wait;
	return 0;
}
IRQLAT_TRACEPOINT(softirq_entry, on_softirq_entry)

static __always_inline int on_softirq_exit(unsigned long long *ctx, const bool btf)
{
	irq_exit(IRQ_KIND_SOFTIRQ, (__u32)ctx[0], NULL, btf);
	return 0;
}
IRQLAT_TRACEPOINT(softirq_exit, on_softirq_exit)

/* x86 system vectors: each tracepoint takes the vector number as argument;
 * the enum, not the number, names the slot. */
#define IRQLAT_VECTOR(tp, vec)                                                     \
	static __always_inline int on_##tp##_entry(unsigned long long *ctx, const bool btf) \
	{                                                                          \
		irq_enter(my_cpu(), IRQ_KIND_VECTOR, vec);                         \
		return 0;                                                          \
	}                                                                          \
	static __always_inline int on_##tp##_exit(unsigned long long *ctx, const bool btf)  \
	{                                                                          \
		irq_exit(IRQ_KIND_VECTOR, vec, NULL, btf);                         \
		return 0;                                                          \
	}                                                                          \
	IRQLAT_TRACEPOINT(tp##_entry, on_##tp##_entry)                             \
	IRQLAT_TRACEPOINT(tp##_exit, on_##tp##_exit)

IRQLAT_VECTOR(local_timer, VEC_LOCAL_TIMER)
IRQLAT_VECTOR(reschedule, VEC_RESCHEDULE)
IRQLAT_VECTOR(call_function, VEC_CALL_FUNCTION)
IRQLAT_VECTOR(call_function_single, VEC_CALL_FUNCTION_SINGLE)
IRQLAT_VECTOR(irq_work, VEC_IRQ_WORK)
IRQLAT_VECTOR(x86_platform_ipi, VEC_X86_PLATFORM_IPI)
IRQLAT_VECTOR(thermal_apic, VEC_THERMAL_APIC)
IRQLAT_VECTOR(threshold_apic, VEC_THRESHOLD_APIC)
IRQLAT_VECTOR(deferred_error_apic, VEC_DEFERRED_ERROR)
IRQLAT_VECTOR(error_apic, VEC_ERROR_APIC)
IRQLAT_VECTOR(spurious_apic, VEC_SPURIOUS_APIC)

/* -------------------------------------------------------------- signals */

static __always_inline int on_signal(unsigned long long *ctx, const bool btf)
{
	int sig = (int)ctx[0];
	struct task_struct *p = (void *)ctx[2];
	__u32 tid, pid;
	__u64 id;
	struct target_val *tv;
	struct ev_signal *e;

	if (signal_mask == 0 || sig <= 0 || sig >= 64 || !(signal_mask & (1ULL << sig)))
		return 0;
	tid = RD(btf, p, pid);
	pid = RD(btf, p, tgid);
	if (!is_target(tid, pid, &tv))
		return 0;
	struct rec_slot slot;

	e = reserve(sizeof(*e), &slot);
	if (!e)
		return 0;
	id = bpf_get_current_pid_tgid();
	fill_hdr(&e->h, bpf_ktime_get_ns(), tid, EV_SIGNAL);
	e->h.flags = accounted(tv) ? EV_F_KACCT : 0;
	e->pid = pid;
	e->sig = sig;
	e->sender_tid = (__u32)id;
	e->sender_pid = id >> 32;
	submit(e, &slot);
	return 0;
}
IRQLAT_TRACEPOINT(signal_generate, on_signal)

/* ------------------------------------------------- cancel/done markers */

static __always_inline int mark(__u32 which, __u64 arg)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 now = bpf_ktime_get_ns();
	__u32 tid = (__u32)id, pid = id >> 32;
	struct target_val *tv;
	struct ev_mark *e;

	if (!gate.on || !is_target(tid, pid, &tv))
		return 0;
	struct rec_slot slot;

	e = reserve(sizeof(*e), &slot);
	if (!e)
		return 0;
	fill_hdr(&e->h, now, tid, EV_MARK);
	e->pid = pid;
	e->which = which;
	e->arg = arg;
	submit(e, &slot);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(uprobe_cancel)
{
	return mark(MARK_CANCEL, 0);
}

SEC("uprobe")
int BPF_KPROBE(uprobe_done)
{
	return mark(MARK_DONE, 0);
}

SEC("usdt")
int BPF_USDT(usdt_cancel, long id)
{
	return mark(MARK_CANCEL, id);
}

SEC("usdt")
int BPF_USDT(usdt_done, long id)
{
	return mark(MARK_DONE, id);
}

/* ------------------------------------------- reading the thread accounts */

/*
 * Writes the account of every live kernel-accounted thread (its comm
 * refreshed) to the iterator's output, one struct thread_acct each. Accounts
 * of threads that are no longer targets (detached, or exited) are deleted
 * once read, so a detached process re-attached later starts afresh.
 */
SEC("iter/task")
int dump_threads(struct bpf_iter__task *ctx)
{
	struct task_struct *t = ctx->task;
	struct thread_acct *a;
	__u32 tid;
	bool gone, hot;

	if (!t)
		return 0;
	tid = t->pid;
	a = hot_slot(tid);
	hot = a && a->tid == tid;
	if (!hot) {
		if (use_task_storage)
			a = bpf_task_storage_get(&acct_store, t, 0, 0);
		else
			a = bpf_map_lookup_elem(&acct_by_tid, &tid);
	}
	if (!a || a->tid != tid)
		return 0;
	gone = a->state == TS_DEAD || (!targ_all && !target_bit(tid));
	if (a->state != TS_DEAD) {
		__builtin_memcpy(a->comm, t->comm, sizeof(a->comm));
		bpf_seq_write(ctx->meta->seq, a, sizeof(*a));
	}
	if (gone) {
		if (hot)
			hot_release(tid);
		else if (use_task_storage)
			bpf_task_storage_delete(&acct_store, t);
		else
			bpf_map_delete_elem(&acct_by_tid, &tid);
	}
	return 0;
}

/* ------------------------------------------------------------ the gate */

/* Sets the gate bits of every target task (Loader::refresh_gate()). */
SEC("iter/task")
int gate_targets(struct bpf_iter__task *ctx)
{
	struct task_struct *t = ctx->task;

	if (!t || targ_all)
		return 0;
	if (target_bit(t->pid))
		gate_add(t);
	return 0;
}
