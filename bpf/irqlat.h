/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Records and map values shared by the BPF programs (bpf/irqlat.bpf.c) and the
 * C++ collector (user/). One definition, both sides include it.
 *
 * Every ring-buffer record starts with struct ev_hdr. Records are fixed-size
 * per type and at most IRQLAT_MAX_RECORD bytes.
 */
#ifndef IRQLAT_H
#define IRQLAT_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define IRQLAT_COMM_LEN 16

#ifdef __cplusplus
#define IRQLAT_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define IRQLAT_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif
#define IRQLAT_IRQ_NAME_LEN 32
#define IRQLAT_MAX_DEPTH 8 /* interrupt nesting levels tracked per CPU */
#define IRQLAT_MAX_CPUS 1024
#define IRQLAT_MAX_RECORD 64
#define IRQLAT_NR_SOFTIRQS 10

/* What kind of interrupt context an irq record or stats slot describes. */
enum irqlat_irq_kind {
	IRQ_KIND_HARDIRQ = 0, /* device IRQ: irq:irq_handler_entry/exit */
	IRQ_KIND_VECTOR = 1,  /* x86 system vector: irq_vectors:*_entry/exit */
	IRQ_KIND_SOFTIRQ = 2, /* irq:softirq_entry/exit */
};

/* x86 system vectors, one per irq_vectors tracepoint pair. */
enum irqlat_vector {
	VEC_LOCAL_TIMER = 0,
	VEC_RESCHEDULE,
	VEC_CALL_FUNCTION,
	VEC_CALL_FUNCTION_SINGLE,
	VEC_IRQ_WORK,
	VEC_X86_PLATFORM_IPI,
	VEC_THERMAL_APIC,
	VEC_THRESHOLD_APIC,
	VEC_DEFERRED_ERROR,
	VEC_ERROR_APIC,
	VEC_SPURIOUS_APIC,
	IRQLAT_NR_VECTORS,
};

/*
 * Stats slots: softirq vectors first, then system vectors, then device IRQs
 * 0..max_irq-1, then one overflow slot for IRQ numbers >= max_irq.
 * The irq_stats map is indexed by slot * nr_cpus + cpu.
 */
#define IRQLAT_SLOT_SOFTIRQ(vec) ((unsigned int)(vec))
#define IRQLAT_SLOT_VECTOR(v) (IRQLAT_NR_SOFTIRQS + (unsigned int)(v))
#define IRQLAT_SLOT_HARDIRQ0 (IRQLAT_NR_SOFTIRQS + IRQLAT_NR_VECTORS)
#define IRQLAT_NR_SLOTS(max_irq) (IRQLAT_SLOT_HARDIRQ0 + (max_irq) + 1)

/*
 * Log-linear histogram (HDR style). Values below 2^SUB_BITS are exact; above,
 * each power of two is split into 2^SUB_BITS buckets, so a bucket is at most
 * 1/64 of its lower bound wide and its midpoint is within 0.8% of any value in
 * it. Values >= 2^HIST_MAX_EXP (17 s) share the last bucket.
 */
#define IRQLAT_HIST_SUB_BITS 6
#define IRQLAT_HIST_SUB (1u << IRQLAT_HIST_SUB_BITS)
#define IRQLAT_HIST_MAX_EXP 34
#define IRQLAT_HIST_BUCKETS ((IRQLAT_HIST_MAX_EXP - IRQLAT_HIST_SUB_BITS + 1) * IRQLAT_HIST_SUB)

/*
 * floor(log2(v)) for v > 0, without branches: BPF has no count-leading-zeros,
 * and a compare per halving step mispredicts on every few interrupt or
 * wakeup durations (a test_run microbench of random 0.5-128 us values:
 * ~13 ns per bucket with branches, ~3 ns like this). Each step adds
 * 2^w - 1 to the top half v >> w, which carries into bit w exactly when that
 * half is not zero, and shifts v by that bit times the width w.
 * Always inlined: a BPF-to-BPF call would cost more than the work.
 */
static inline __attribute__((always_inline)) unsigned int irqlat_log2(__u64 v)
{
	__u64 r = 0, s;
	unsigned int w;

	for (w = 32; w > 1; w /= 2) { /* unrolled: w is a constant in each step */
		s = (((v >> w) + ((1ULL << w) - 1)) >> w) * w;
		v >>= s;
		r |= s;
	}
	return (unsigned int)(r | (v >> 1));
}

static inline __attribute__((always_inline)) unsigned int irqlat_hist_bucket(__u64 v)
{
	unsigned int e;

	if (v < IRQLAT_HIST_SUB)
		return (unsigned int)v;
	e = irqlat_log2(v);
	if (e > IRQLAT_HIST_MAX_EXP - 1)
		return IRQLAT_HIST_BUCKETS - 1;
	return (e - IRQLAT_HIST_SUB_BITS + 1) * IRQLAT_HIST_SUB +
	       (unsigned int)((v >> (e - IRQLAT_HIST_SUB_BITS)) & (IRQLAT_HIST_SUB - 1));
}

/* Smallest value that falls in bucket b. */
static inline __u64 irqlat_hist_lower(unsigned int b)
{
	unsigned int group = b / IRQLAT_HIST_SUB, sub = b % IRQLAT_HIST_SUB;

	if (group == 0)
		return b;
	return (__u64)(IRQLAT_HIST_SUB + sub) << (group - 1);
}

/* Number of distinct values in bucket b (1 for the exact range). */
static inline __u64 irqlat_hist_width(unsigned int b)
{
	unsigned int group = b / IRQLAT_HIST_SUB;

	return group == 0 ? 1 : (__u64)1 << (group - 1);
}

/*
 * One stats slot on one CPU, aggregated in the kernel. Self (net) time.
 * A multiple of 64 bytes: the mmapable array is page-aligned and indexed
 * slot * nr_cpus + cpu, so every element's counters then sit in one cache
 * line (at 7520 bytes, every odd element's straddled two: all of CPU 1's on
 * a 2-CPU machine).
 */
struct irq_stat {
	__u64 count;
	__u64 total_ns;
	__u64 max_ns;
	__u64 raise_count;    /* softirq slots: raise->entry waits measured */
	__u64 raise_wait_ns;  /* softirq slots: total raise->entry wait */
	__u64 raise_wait_max; /* softirq slots: worst raise->entry wait */
	__u64 target_hits;    /* ran while a kernel-accounted target was on CPU */
	__u64 target_stolen_ns; /* self time taken from those targets */
	char name[IRQLAT_IRQ_NAME_LEN]; /* device IRQs: irqaction->name */
	char pad[64 - IRQLAT_IRQ_NAME_LEN];
	__u32 hist[IRQLAT_HIST_BUCKETS];
};
IRQLAT_STATIC_ASSERT(sizeof(struct irq_stat) % 64 == 0, "irq_stat elements must be cache-line multiples");

/* Per-CPU counters of the kernel side (PERCPU_ARRAY, one entry). */
struct kstats {
	__u64 records;      /* records that reached the ring buffer (batched ones when flushed) */
	__u64 drops;        /* ring-buffer reservations that failed */
	__u64 irq_unmatched;/* interrupt exits without a matching entry */
	__u64 irq_overflow; /* entries deeper than IRQLAT_MAX_DEPTH */
	__u64 acct_failed;  /* thread accounts that could not be created or saved */
};

/*
 * Records are batched per CPU (struct irqlat_batch, a PERCPU_ARRAY) and
 * reach the ring buffer several at a time: one ring record is a
 * concatenation of ev_* records, each sized by its type. A batch is flushed
 * when nearly full, when its oldest record is IRQLAT_BATCH_AGE_NS old (checked
 * on every record and interrupt on that CPU), and when the CPU goes idle, so
 * a record reaches user space within about one timer tick.
 */
#define IRQLAT_BATCH_BYTES 2048
#define IRQLAT_BATCH_AGE_NS 1000000ULL

struct irqlat_batch {
	__u64 first_ts; /* timestamp of the oldest record in data */
	__u32 len;      /* bytes used in data */
	__u32 count;    /* records in data */
	__u32 busy;     /* a program on this CPU is appending; nested ones go direct */
	__u32 pad;
	__u8 data[IRQLAT_BATCH_BYTES];
};

/*
 * The gate: a filter on task addresses that every sched program applies
 * before it reads anything of a task. Most sched events concern no target,
 * and reading a task's pid touches a line of its task_struct the kernel's
 * own path had no need of; the gate answers from the task pointer alone, in
 * the line holding gate.on, which every program reads first.
 *
 * A set bit says "may be a target" (then target_bits decides); a clear bit
 * says "is not". bits[gen & 1] is live. The BPF side sets a target's bit in
 * both sets (fork, exec, the gate_targets iterator); user space rebuilds
 * stale bits away by clearing the other set, running the iterator, and
 * flipping gen (Loader::refresh_gate). One line: 64 bytes.
 */
#define IRQLAT_GATE_WORDS 3
#define IRQLAT_GATE_BITS (IRQLAT_GATE_WORDS * 64)
struct task_gate {
	__u32 on;  /* the counted interval is open (Loader::set_tracing) */
	__u32 gen;
	__u64 bits[2][IRQLAT_GATE_WORDS];
	__u64 pad;
} __attribute__((aligned(64)));
IRQLAT_STATIC_ASSERT(sizeof(struct task_gate) == 64, "the gate is one cache line");

/* target_bits: one bit per possible tid (PID_MAX_LIMIT on 64-bit). */
#define IRQLAT_TID_LIMIT 4194304
#define IRQLAT_TID_WORDS (IRQLAT_TID_LIMIT / 64)

/* Target flags in the target_tids / target_tgids maps. */
#define TARGET_FOLLOW_THREADS 1u  /* new threads of this process are targets */
#define TARGET_FOLLOW_CHILDREN 2u /* forked child processes are targets too */
#define TARGET_STREAM 4u          /* stream its scheduler events (windows need them) */

/* Per target thread, kept by the kernel side (value of target_tids). */
struct target_val {
	__u32 pid;      /* tgid */
	__u32 flags;    /* TARGET_* inherited from its process */
	__s32 wait_cpu; /* CPU whose runqueue it waits on, -1 if not waiting */
	__u32 pad;
};

/*
 * Scheduling state of a target thread. Threads whose events are not
 * streamed (no cancellation windows need their timeline) are accounted here,
 * in the kernel, with the same state machine as user/timeline.cpp: a record
 * per scheduler event would cost several times an empty program.
 */
enum irqlat_tstate {
	TS_UNKNOWN = 0, /* before its first event */
	TS_RUNNING,
	TS_RUNNABLE,
	TS_BLOCKED,
	TS_DEAD, /* exited: its final account is in exited_accts */
};

/* Accounts live in a direct-mapped array indexed by tid % IRQLAT_HOT_SLOTS:
 * an array lookup is inlined by the verifier, where task storage costs a
 * helper call (~22 ns) on every scheduler event. A thread whose slot is held
 * by another uses task storage (tp_btf) or the tid hash (raw_tp) instead. */
#define IRQLAT_HOT_SLOTS 512

/* One kernel-accounted thread (hot slot, task storage, or a tid hash).
 * Counters are cumulative from its first event; `since` is the time booked
 * up to, so a reader adds now - since to the current state. */
struct thread_acct {
	/* Line 1: what every switch and wakeup of the thread reads or writes.
	 * tid stays first (hot_release zeroes everything after it). */
	__u32 tid;
	__u8 state;  /* enum irqlat_tstate */
	__u8 woken;  /* RUNNABLE after a wakeup: wake_ts starts a latency sample */
	__u16 pad;
	__u64 since;
	__u64 run_start; /* RUNNING: when it went on CPU */
	__u64 wake_ts;
	__u64 oncpu_ns;
	__u64 runqueue_ns;
	__u64 sched_total_ns; /* wakeup -> on CPU samples (their count: the histogram's) */
	__u64 sched_max_ns;
	/* Line 2: counters of some events, and identity. */
	__u64 wakeups;     /* sched_waking from BLOCKED */
	__u64 preemptions; /* switched out still runnable */
	__u64 hardirq_ns; /* hardirq + vector self time while RUNNING */
	__u64 softirq_ns;
	__u32 pid;
	__u32 flags; /* TARGET_* */
	__u64 created_ns;
	char comm[IRQLAT_COMM_LEN];
	__u32 hist[IRQLAT_HIST_BUCKETS]; /* wakeup -> on CPU latencies */
};
/* Whole lines, so that in the page-aligned acct_hot array every account's
 * first line is the one above. */
IRQLAT_STATIC_ASSERT(sizeof(struct thread_acct) % 64 == 0, "thread_acct must be cache-line multiples");
IRQLAT_STATIC_ASSERT(__builtin_offsetof(struct thread_acct, wakeups) == 64, "line 1 of thread_acct");

/* Key of exited_accts: an exited thread's final account, until user space
 * collects it (tids are reused, so the exit time is part of the key). */
struct exited_key {
	__u32 tid;
	__u32 pid;
	__u64 exit_ns;
};

enum irqlat_ev_type {
	EV_SWITCH = 1,  /* struct ev_switch */
	EV_WAKING,      /* struct ev_wake: runnable from now (sched_waking) */
	EV_WAKEUP_NEW,  /* struct ev_wake: a new task is runnable */
	EV_MIGRATE,     /* struct ev_migrate */
	EV_FORK,        /* struct ev_task: hdr.tid is the child */
	EV_EXIT,        /* struct ev_task: flags & EV_F_GROUP_DEAD on last thread */
	EV_EXEC,        /* struct ev_task: comm is the new comm */
	EV_IRQ,         /* struct ev_irq: interrupt on a CPU running a target */
	EV_SIGNAL,      /* struct ev_signal: signal generated for a target */
	EV_MARK,        /* struct ev_mark: cancel/done uprobe or USDT fired */
};

#define EV_F_GROUP_DEAD 1 /* EV_EXIT: the whole process is gone */
#define EV_F_KACCT 2      /* ev_task/ev_signal: the thread is accounted in the kernel */
/* EV_WAKING: the task was asleep off the CPU (it had switched out blocked),
 * so this is a wakeup even when irqlat never saw it block (asleep since
 * before tracing started). */
#define EV_F_WAS_BLOCKED 4

struct ev_hdr {
	__u64 ts;   /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 tid;  /* the thread the record is about (see each type) */
	__u16 cpu;  /* CPU the program ran on */
	__u8 type;  /* enum irqlat_ev_type */
	__u8 flags;
};

/* hdr.tid = prev. Sent when prev or next is a target, or a target waits on
 * this CPU's runqueue (to name who held the CPU). */
struct ev_switch {
	struct ev_hdr h;
	__u32 prev_pid;
	__u32 next_tid;
	__u32 next_pid;
	__u8 prev_runnable; /* preempted or yielded: still on the runqueue */
	__u8 prev_target;
	__u8 next_target;
	__u8 pad;
	char next_comm[IRQLAT_COMM_LEN];
};

/* hdr.tid = the task becoming runnable; target_cpu = runqueue it goes to. */
struct ev_wake {
	struct ev_hdr h;
	__u32 pid;
	__s32 target_cpu;
	__u32 waker_tid;
	__u32 waker_pid;
};

struct ev_migrate {
	struct ev_hdr h;
	__u32 pid;
	__s32 orig_cpu;
	__s32 dest_cpu;
	__u32 pad;
};

struct ev_task {
	struct ev_hdr h;
	__u32 pid;
	__u32 parent_tid; /* EV_FORK: the forking thread; EV_EXEC: the tid before
			   * the exec (a thread other than the leader that
			   * execs takes the process id as its tid) */
	__u32 parent_pid;
	__u32 pad;
	char comm[IRQLAT_COMM_LEN];
};

/* hdr.ts = exit time, hdr.tid = target thread that was on this CPU. */
struct ev_irq {
	struct ev_hdr h;
	__u32 pid;
	__u32 id;      /* IRQ number, enum irqlat_vector, or softirq vector */
	__u64 start_ts;/* entry time */
	__u64 net_ns;  /* self time: nested interrupts excluded */
	__u8 kind;     /* enum irqlat_irq_kind */
	__u8 pad[7];
};

/* hdr.tid = the thread the signal is for. */
struct ev_signal {
	struct ev_hdr h;
	__u32 pid;
	__s32 sig;
	__u32 sender_tid;
	__u32 sender_pid;
};

enum irqlat_mark { MARK_CANCEL = 0, MARK_DONE = 1 };

/* hdr.tid = the thread that hit the probe. */
struct ev_mark {
	struct ev_hdr h;
	__u32 pid;
	__u32 which; /* enum irqlat_mark */
	__u64 arg;   /* USDT argument 0 (the marker id), 0 for uprobes */
};

/* Size of a record of this type; 0 for an unknown type. */
static inline __u32 irqlat_record_size(__u8 type)
{
	switch (type) {
	case EV_SWITCH: return sizeof(struct ev_switch);
	case EV_WAKING:
	case EV_WAKEUP_NEW: return sizeof(struct ev_wake);
	case EV_MIGRATE: return sizeof(struct ev_migrate);
	case EV_FORK:
	case EV_EXIT:
	case EV_EXEC: return sizeof(struct ev_task);
	case EV_IRQ: return sizeof(struct ev_irq);
	case EV_SIGNAL: return sizeof(struct ev_signal);
	case EV_MARK: return sizeof(struct ev_mark);
	}
	return 0;
}

#endif /* IRQLAT_H */
