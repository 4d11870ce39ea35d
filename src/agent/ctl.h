/*
 * ctl.h - `cloudlet-agent ctl`: the operator's CLI over the agent socket.
 */
#ifndef CLOUDLET_CTL_H
#define CLOUDLET_CTL_H

int ctl_main(int argc, char **argv);

#endif
