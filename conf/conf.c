/*
 * conf/conf.c — releasing and looking up a loaded configuration.
 */
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "conf/schema.h"

/*
 * Safe on NULL and on a struct the loader abandoned half-way: every owned
 * field is either NULL or allocated, and the arrays are counted before
 * they are filled.
 */
void
conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n_producers; i++) {
		conf_table_clear(&conf_producer_table, &c->producers[i]);
		free(c->producers[i].name);
	}
	free(c->producers);
	for (size_t i = 0; i < c->n_consumers; i++) {
		conf_table_clear(&conf_consumer_table, &c->consumers[i]);
		free(c->consumers[i].name);
	}
	free(c->consumers);
	conf_table_clear(&conf_top_table, c);
	free(c->path);
	free(c);
}

const struct conf_producer *
conf_producer_find(const struct conf *c, const char *name)
{
	for (size_t i = 0; i < c->n_producers; i++)
		if (strcmp(c->producers[i].name, name) == 0)
			return &c->producers[i];
	return NULL;
}

const struct conf_consumer *
conf_consumer_find(const struct conf *c, const char *name)
{
	for (size_t i = 0; i < c->n_consumers; i++)
		if (strcmp(c->consumers[i].name, name) == 0)
			return &c->consumers[i];
	return NULL;
}
