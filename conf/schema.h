/*
 * conf/schema.h — private to conf/: the schema table and the walkers that
 * apply it to a struct.  Nothing outside conf/ includes this file.
 *
 * A struct conf_table describes one YAML mapping (the top level, `log`, a
 * producer, its `kpl`, ...).  Each struct conf_key is one key: its YAML
 * name, how its value is typed and checked, where it lives in the C struct
 * and its built-in default.  The loader (load.c), the printers (print.c) and
 * the generic walkers below (schema.c) all read the same rows, so a key
 * added to the table is loaded, defaulted, printed and documented at once.
 */
#ifndef KD_CONF_SCHEMA_H
#define KD_CONF_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

enum conf_type {
	CONF_T_STRING,   /* char *, owned by the struct; NULL = unset */
	CONF_T_BOOL,     /* int, 0 or 1 */
	CONF_T_UINT,     /* uint64_t within [min_u, max_u] */
	CONF_T_DOUBLE,   /* double within [min_d, max_d] */
	CONF_T_MODE,     /* unsigned, written as an octal string ("0660") */
	CONF_T_ENUM,     /* int, the index of the value in names[] */
	CONF_T_UIDS,     /* uint32_t * + size_t at count_offset; users */
	CONF_T_GIDS,     /* the same, groups */
	CONF_T_SECTION,  /* a nested mapping described by sub, same base */
	CONF_T_TEMPLATE, /* default-producer / default-consumer (sub) */
	CONF_T_NAMED,    /* producers / consumers: name -> sub mapping */
	CONF_T_IGNORED,  /* known KPL/KCL key with no meaning: warn */
};

/* conf_key.flags */
#define CONF_F_NULLABLE 0x1 /* a string that may stay unset (YAML null) */
#define CONF_F_REQUIRED 0x2 /* must be set in every producer/consumer */

struct conf_table;

struct conf_key {
	const char *name; /* the YAML key, spelled as KPL/KCL spell it */
	enum conf_type type;
	unsigned flags;
	size_t offset;       /* of the field in the table's struct */
	size_t count_offset; /* UIDS/GIDS: of the size_t element count */

	uint64_t def_u;      /* default: UINT, BOOL, MODE, ENUM (index) */
	double def_d;        /* default: DOUBLE */
	const char *def_s;   /* default: STRING; NULL = unset */
	const char *def_doc; /* reference text when the default is derived */

	uint64_t min_u, max_u;        /* UINT, MODE: value; STRING: length */
	double min_d, max_d;          /* DOUBLE */
	const char *const *names;     /* ENUM: the allowed values, NULL-ended */
	const struct conf_table *sub; /* SECTION, TEMPLATE, NAMED */
	/* STRING: returns NULL when value is fine, else what was expected. */
	const char *(*check)(const char *value);

	const char *unit; /* "ms", "s", "bytes", "%": shown in docs */
	const char *doc;  /* one line; for IGNORED: why it is ignored */
};

struct conf_table {
	const char *name;  /* "kpl"; the top level is "" */
	const char *title; /* heading in docs/config.md */
	const char *doc;   /* paragraph under the heading */
	const struct conf_key *keys;
	size_t n_keys;
};

/* The tables (schema.c). */
extern const struct conf_table conf_top_table;
extern const struct conf_table conf_producer_table;
extern const struct conf_table conf_consumer_table;

/* Checks shared with the environment (load.c): NULL or what was expected. */
const char *conf_check_url(const char *);
const char *conf_check_region(const char *);

/*
 * Parses initialTimestamp (ISO 8601 "2024-05-01T12:00:00Z", optional
 * fraction and +hh:mm offset, or epoch seconds "1714564800.5") into
 * milliseconds since the epoch.  Returns 0, or -1 when malformed.
 */
int conf_timestamp_parse(const char *, int64_t *ms);

/*
 * Generic walkers (schema.c).  They skip TEMPLATE/NAMED/IGNORED rows, which
 * conf.c and load.c handle, and recurse into SECTION rows.
 */
/* Sets every default; returns -1 when out of memory (base stays freeable). */
int conf_table_defaults(const struct conf_table *, void *base);
/* Frees what the table's fields own and NULLs them; NULL-safe fields. */
void conf_table_clear(const struct conf_table *, void *base);
/*
 * Deep-copies src's fields into dst (which owns nothing yet); on -1 (out of
 * memory) dst holds no pointer into src and can be cleared safely.
 */
int conf_table_copy(const struct conf_table *, void *dst, const void *src);

/* Field access by offset. */
#define CONF_FIELD(base, key, type)                                            \
	((type *)(void *)((char *)(base) + (key)->offset))
#define CONF_CFIELD(base, key, type)                                           \
	((const type *)(const void *)((const char *)(base) + (key)->offset))

#endif
