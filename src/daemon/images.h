/*
 * images.h - the host's images as the agent last listed them (image.list),
 * kept so that an API request never waits for the agent to list them: the
 * reconciliation refreshes the list every 2 s (and at start).
 */
#ifndef CLOUDLET_IMAGES_H
#define CLOUDLET_IMAGES_H

#include <jansson.h>
#include <stddef.h>

/*
 * Ask a host's agent now (one try; NULL: the first host that answers): 0,
 * or -errno with the reason in err. Hosts simulated on one machine share
 * their images; real hosts with different images are not told apart yet.
 */
int images_refresh(const char *host_id, char *err, size_t errlen);

/*
 * Is the image on the host? 1 it was in the last list, 0 it was not, -1
 * no list yet (the agent has not answered since cloudletd started).
 */
int images_has(const char *name);

/* The last list (new reference), NULL if there is none yet. */
json_t *images_list(void);

#endif
