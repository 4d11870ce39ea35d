/*
 * version.h - the release of cloudlet's programs: the agent reports it in
 * host.info and the control plane shows it per host (docs/hosts.md).
 * Raised with every release; the wire protocol has its own version
 * (CONTROL_PROTOCOL_MIN/MAX in src/agent/control.h).
 */
#ifndef CLOUDLET_VERSION_H
#define CLOUDLET_VERSION_H

#define CLOUDLET_VERSION "0.21.0"

#endif
