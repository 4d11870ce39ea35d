/*
 * vmwatch.h - what the supervisor (supervise.h) watches for the VM table,
 * and what happens when it fires: QMP events (SHUTDOWN, STOP, RESUME,
 * RESET), the end of a QEMU process (stopped on request, guest shut down,
 * or crashed with the reason), console output (readiness, vmready.h).
 */
#ifndef CLOUDLET_VMWATCH_H
#define CLOUDLET_VMWATCH_H

/* Start the supervisor thread on the table. 0 or -errno. */
int vmwatch_start(void);

#endif
