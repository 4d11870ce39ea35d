/*
 * tap.h - tap devices for VM NICs.
 *
 * The agent opens each tap itself (inside the network namespace that holds
 * the VM's bridge), attaches it to the bridge, and hands the open file
 * descriptor to QEMU, so QEMU needs no network privilege at all. A tap is
 * not persistent: it disappears when QEMU, its last holder, exits.
 *
 * tap_open() is called in the forked child just before exec (it may switch
 * the calling thread's network namespace), so it only uses system calls and
 * snprintf into the caller's buffer.
 */
#ifndef CLOUDLET_TAP_H
#define CLOUDLET_TAP_H

#include <stddef.h>

/* Returns the tap fd or -errno with a message in err. */
int tap_open(const char *netns, const char *bridge, const char *ifname, char *err,
	     size_t errlen);

#endif
