/*
 * irqlat/probes.h - cancellation markers for irqlat (C and C++).
 *
 *   #include <irqlat/probes.h>
 *
 *   IRQLAT_CANCEL(id);   // where the program asks its loops to stop
 *   IRQLAT_DONE(id);     // where a loop has noticed and is finished
 *
 * Each macro is a USDT (SystemTap SDT) probe, provider "irqlat", names
 * "cancel" and "done", with one integer argument (`id`, passed as a signed
 * 64-bit value; use it to tie a done to its cancel, e.g. a round number).
 * Trace them with
 *
 *   irqlat trace -p PID --cancel usdt:irqlat:cancel --done usdt:irqlat:done
 *
 * Cost: the probe site is a single `nop` plus a note in the ELF file
 * (`readelf -n prog` lists it under "stapsdt"); the only run-time work is
 * evaluating `id` into a register. There are no semaphores, so nothing has
 * to be enabled for the probe to be seen, and nothing changes in the program
 * when a tracer attaches except the nop becoming a breakpoint (a uprobe
 * costs a few microseconds per hit while attached).
 *
 * Needs <sys/sdt.h> (Debian: systemtap-sdt-dev). Do not define
 * _SDT_HAS_SEMAPHORES before including this header: the irqlat probes have
 * no semaphore variables. Define IRQLAT_NO_PROBES to compile the markers
 * out (the argument is still evaluated, once, and discarded).
 */
#ifndef IRQLAT_PROBES_H
#define IRQLAT_PROBES_H

#ifdef IRQLAT_NO_PROBES

#define IRQLAT_CANCEL(id) ((void)(id))
#define IRQLAT_DONE(id) ((void)(id))

#else

#include <sys/sdt.h>

#define IRQLAT_CANCEL(id) DTRACE_PROBE1(irqlat, cancel, (long long)(id))
#define IRQLAT_DONE(id) DTRACE_PROBE1(irqlat, done, (long long)(id))

#endif /* IRQLAT_NO_PROBES */

#endif /* IRQLAT_PROBES_H */
