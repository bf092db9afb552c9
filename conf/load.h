/*
 * conf/load.h — private to conf/: the loader's state, shared by load.c
 * (YAML walking) and finish.c (templates, environment, derived values).
 */
#ifndef KD_CONF_LOAD_H
#define KD_CONF_LOAD_H

#include <yaml.h>

#include "conf/conf.h"
#include "conf/schema.h"

struct conf_loader {
	const char *name;     /* file name for messages (borrowed) */
	char **cause;         /* where the first error goes */
	yaml_document_t *doc; /* the composed document (borrowed) */
	struct conf *conf;    /* being built; owned by load() */
	/*
	 * default-producer, producers, default-consumer, consumers: their
	 * nodes, kept while the top level is read so that a template applies
	 * before the named entries wherever it appears in the file.
	 */
	yaml_node_t *deferred[4];
	char worker_id[320]; /* <hostname>:<uuid>, made on first need */
};

/*
 * Sets *l->cause to "NAME:LINE:COL: PATH: message" (without the position
 * when node is NULL) and returns -1.
 */
int conf_fail(struct conf_loader *, const yaml_node_t *node, const char *path,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int conf_fail_mark(struct conf_loader *, const yaml_mark_t *mark,
    const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int conf_fail_nomem(struct conf_loader *);

/* Applies the keys of map (a mapping or null) onto base; -1 on error. */
int conf_apply_mapping(struct conf_loader *, const struct conf_table *,
    void *base, yaml_node_t *map, const char *path);

/* Fills l->conf's producers (consumers != 0: consumers) from the template. */
int conf_build_named(struct conf_loader *, int consumers, const void *tmpl);

/* finish.c: load step 2 and 3, after the top level has been applied. */
int conf_finish(struct conf_loader *);
/* Checks one built producer/consumer and fills its derived values. */
int conf_finish_entry(struct conf_loader *, int consumer, void *entry,
    const yaml_node_t *key, const char *path);

#endif
