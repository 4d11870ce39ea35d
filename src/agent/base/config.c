/* config.c - see config.h */
#include "config.h"

static const struct agent_config *current;

void
agent_config_set(const struct agent_config *cfg)
{
	current = cfg;
}

const struct agent_config *
agent_config(void)
{
	return current;
}
