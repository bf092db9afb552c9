/*
 * conf/load.c — YAML text to struct conf, driven by the schema tables.
 *
 * libyaml composes the whole document into a node graph first (each node
 * keeps its line and column); the loader then walks it with the tables:
 *   1. the top level's plain keys, remembering the four producer/consumer
 *      mappings wherever they appear in the file;
 *   2. built-in defaults + default-producer (resp. -consumer) make a
 *      template; each named producer starts as a copy of it and its own
 *      mapping is applied on top.  Applying a mapping only touches the keys
 *      it contains and recurses into sections, which is the deep merge;
 *   3. final checks and derived values (finish.c): required keys, the
 *      environment, workerId, tableName.
 * The first error stops the load; its message names file:line:column and
 * the key path (see conf.h).
 */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yaml.h>

#include "conf/conf.h"
#include "conf/load.h"
#include "conf/schema.h"
#include "log/log.h"

/* Longest key path kept for messages; longer ones are cut. */
#define PATH_MAX_LEN 512

/* ---- messages ------------------------------------------------------------ */

static int
failv(struct conf_loader *l, const yaml_mark_t *mark, const char *path,
    const char *fmt, va_list ap)
{
	char *msg = NULL, *out = NULL;
	const char *sep = *path != '\0' ? ": " : "";
	int n;

	if (vasprintf(&msg, fmt, ap) < 0) {
		*l->cause = NULL;
		return -1;
	}
	if (mark != NULL)
		n = asprintf(&out, "%s:%lu:%lu: %s%s%s", l->name,
		    (unsigned long)mark->line + 1,
		    (unsigned long)mark->column + 1, path, sep, msg);
	else
		n = asprintf(&out, "%s: %s%s%s", l->name, path, sep, msg);
	free(msg);
	*l->cause = n < 0 ? NULL : out;
	return -1;
}

int
conf_fail_mark(struct conf_loader *l, const yaml_mark_t *mark, const char *path,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	failv(l, mark, path, fmt, ap);
	va_end(ap);
	return -1;
}

int
conf_fail(struct conf_loader *l, const yaml_node_t *node, const char *path,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	failv(l, node != NULL ? &node->start_mark : NULL, path, fmt, ap);
	va_end(ap);
	return -1;
}

int
conf_fail_nomem(struct conf_loader *l)
{
	return conf_fail(l, NULL, "", "out of memory");
}

static int
node_is_null(const yaml_node_t *n)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	v = (const char *)n->data.scalar.value;
	return *v == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	       strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

/* What a node is, for "..., got X". */
static void
node_describe(const yaml_node_t *n, char *buf, size_t len)
{
	const char *v;
	size_t i, o = 0;
	int quoted;

	if (n->type == YAML_MAPPING_NODE) {
		snprintf(buf, len, "a mapping");
		return;
	}
	if (n->type == YAML_SEQUENCE_NODE) {
		snprintf(buf, len, "a sequence");
		return;
	}
	if (node_is_null(n)) {
		snprintf(buf, len, "nothing (null)");
		return;
	}
	v = (const char *)n->data.scalar.value;
	quoted = n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
	if (quoted && o + 1 < len)
		buf[o++] = '"';
	for (i = 0; i < n->data.scalar.length && o + 5 < len; i++) {
		unsigned char c = (unsigned char)v[i];

		buf[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
		if (i == 60) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
	}
	if (quoted && o + 1 < len)
		buf[o++] = '"';
	buf[o] = '\0';
	if (quoted)
		snprintf(buf + o, len - o, " (a quoted string)");
}

/* Fails with "expected WHAT, got <node>". */
static int
fail_expected(struct conf_loader *l, const yaml_node_t *n, const char *path,
    const char *what)
{
	char got[128];

	node_describe(n, got, sizeof(got));
	return conf_fail(l, n, path, "expected %s, got %s", what, got);
}

static void
range_describe(const struct conf_key *k, char *buf, size_t len)
{
	if (k->max_u >= (uint64_t)INT64_MAX)
		snprintf(buf, len, "an integer >= %llu",
		    (unsigned long long)k->min_u);
	else
		snprintf(buf, len, "an integer in %llu..%llu",
		    (unsigned long long)k->min_u, (unsigned long long)k->max_u);
}

/* ---- scalar values ---------------------------------------------------------
 */

static const char *
scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static int
is_plain(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE &&
	       n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       !node_is_null(n);
}

static int
parse_bool(const char *s, int *out)
{
	static const char *const yes[] = {"true", "yes", "on"};
	static const char *const no[] = {"false", "no", "off"};

	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

/* Decimal digits only, no sign: YAML's own "0x10" or "1e3" are refused. */
static int
parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!isdigit((unsigned char)*s))
		return -1;
	for (; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -2; /* too large: a range error */
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

static int
apply_string(struct conf_loader *l, const struct conf_key *k, void *base,
    const yaml_node_t *n, const char *path)
{
	char **field = CONF_FIELD(base, k, char *);
	const char *v, *bad;
	char *copy;
	size_t len;

	if (n->type != YAML_SCALAR_NODE)
		return fail_expected(l, n, path, "a string");
	if (node_is_null(n) && (k->flags & CONF_F_NULLABLE)) {
		/* An explicit null unsets the key (back to "not set"). */
		free(*field);
		*field = NULL;
		return 0;
	}
	v = node_is_null(n) ? "" : scalar(n);
	len = node_is_null(n) ? 0 : n->data.scalar.length;
	if (strlen(v) != len)
		return fail_expected(l, n, path, "a string without NUL bytes");
	if (len < k->min_u || len > k->max_u) {
		char what[96];

		snprintf(what, sizeof(what), "a string of %llu..%llu bytes",
		    (unsigned long long)k->min_u, (unsigned long long)k->max_u);
		if (len == 0)
			return fail_expected(l, n, path, what);
		return conf_fail(
		    l, n, path, "expected %s, got %zu bytes", what, len);
	}
	if (k->check != NULL && (bad = k->check(v)) != NULL)
		return fail_expected(l, n, path, bad);
	if ((copy = strdup(v)) == NULL)
		return conf_fail_nomem(l);
	free(*field);
	*field = copy;
	return 0;
}

static int
apply_enum(struct conf_loader *l, const struct conf_key *k, void *base,
    const yaml_node_t *n, const char *path)
{
	char what[256];
	size_t o;

	if (n->type == YAML_SCALAR_NODE && !node_is_null(n)) {
		for (size_t i = 0; k->names[i] != NULL; i++) {
			if (strcmp(scalar(n), k->names[i]) == 0) {
				*CONF_FIELD(base, k, int) = (int)i;
				return 0;
			}
		}
	}
	o = (size_t)snprintf(what, sizeof(what), "one of ");
	for (size_t i = 0; k->names[i] != NULL && o < sizeof(what); i++)
		o += (size_t)snprintf(what + o, sizeof(what) - o, "%s%s",
		    i > 0 ? ", " : "", k->names[i]);
	return fail_expected(l, n, path, what);
}

static int
apply_mode(struct conf_loader *l, const struct conf_key *k, void *base,
    const yaml_node_t *n, const char *path)
{
	const char *s;
	unsigned v = 0;
	size_t digits = 0;

	if (n->type != YAML_SCALAR_NODE || node_is_null(n))
		goto bad;
	s = scalar(n);
	if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
		s += 2; /* YAML 1.2 spelling 0o660 */
	for (; *s >= '0' && *s <= '7' && digits < 6; s++, digits++)
		v = v * 8 + (unsigned)(*s - '0');
	if (*s != '\0' || digits == 0 || v > k->max_u)
		goto bad;
	*CONF_FIELD(base, k, unsigned) = v;
	return 0;
bad:
	return fail_expected(
	    l, n, path, "an octal permission string such as \"0660\"");
}

/* One uid or gid: a number, or a name looked up in the user database. */
static int
resolve_id(const char *s, int group, uint32_t *out)
{
	uint64_t v;
	int rc;

	if ((rc = parse_u64(s, &v)) != -1)
		/* (uid_t)-1 means "no change" to chown(2): never a peer. */
		return rc == 0 && v < UINT32_MAX ? (*out = (uint32_t)v, 0) : -1;
	/* getpwnam/getgrnam: start-up only, so their static buffers are fine.
	 */
	if (group) {
		struct group *gr = getgrnam(s);

		if (gr == NULL)
			return -1;
		*out = (uint32_t)gr->gr_gid;
	} else {
		struct passwd *pw = getpwnam(s);

		if (pw == NULL)
			return -1;
		*out = (uint32_t)pw->pw_uid;
	}
	return 0;
}

static int
apply_ids(struct conf_loader *l, const struct conf_key *k, void *base,
    const yaml_node_t *n, const char *path)
{
	int group = k->type == CONF_T_GIDS;
	uint32_t **field = CONF_FIELD(base, k, uint32_t *), *ids = NULL;
	size_t *count = (size_t *)(void *)((char *)base + k->count_offset);
	size_t nitems;

	if (node_is_null(n))
		nitems = 0;
	else if (n->type != YAML_SEQUENCE_NODE)
		return fail_expected(
		    l, n, path, group ? "a list of groups" : "a list of users");
	else
		nitems = (size_t)(n->data.sequence.items.top -
		                  n->data.sequence.items.start);
	if (nitems > 0 && (ids = calloc(nitems, sizeof(*ids))) == NULL)
		return conf_fail_nomem(l);
	for (size_t i = 0; i < nitems; i++) {
		yaml_node_t *it = yaml_document_get_node(
		    l->doc, n->data.sequence.items.start[i]);

		if (it == NULL || it->type != YAML_SCALAR_NODE ||
		    node_is_null(it) ||
		    resolve_id(scalar(it), group, &ids[i])) {
			free(ids);
			return fail_expected(l, it != NULL ? it : n, path,
			    group ? "a group name or gid (known to this host)"
			          : "a user name or uid (known to this host)");
		}
	}
	free(*field);
	*field = ids;
	*count = nitems;
	return 0;
}

static int
apply_value(struct conf_loader *l, const struct conf_key *k, void *base,
    const yaml_node_t *n, const char *path)
{
	char what[96];
	uint64_t u;
	double d;
	char *end;
	int b, rc;

	switch (k->type) {
	case CONF_T_STRING:
		return apply_string(l, k, base, n, path);
	case CONF_T_BOOL:
		if (!is_plain(n) || parse_bool(scalar(n), &b) == -1)
			return fail_expected(l, n, path, "true or false");
		*CONF_FIELD(base, k, int) = b;
		return 0;
	case CONF_T_UINT:
		range_describe(k, what, sizeof(what));
		if (!is_plain(n))
			return fail_expected(l, n, path, what);
		rc = parse_u64(scalar(n), &u);
		if (rc == -1 && scalar(n)[0] != '-')
			return fail_expected(l, n, path, what);
		if (rc != 0 || u < k->min_u || u > k->max_u)
			return conf_fail(
			    l, n, path, "expected %s, got %s", what, scalar(n));
		*CONF_FIELD(base, k, uint64_t) = u;
		return 0;
	case CONF_T_DOUBLE:
		snprintf(what, sizeof(what), "a number in %g..%g", k->min_d,
		    k->max_d);
		if (!is_plain(n))
			return fail_expected(l, n, path, what);
		errno = 0;
		d = strtod(scalar(n), &end);
		if (end == scalar(n) || *end != '\0' || errno != 0 ||
		    !isfinite(d) || d < k->min_d || d > k->max_d)
			return fail_expected(l, n, path, what);
		*CONF_FIELD(base, k, double) = d;
		return 0;
	case CONF_T_MODE:
		return apply_mode(l, k, base, n, path);
	case CONF_T_ENUM:
		return apply_enum(l, k, base, n, path);
	case CONF_T_UIDS:
	case CONF_T_GIDS:
		return apply_ids(l, k, base, n, path);
	default:
		return conf_fail(l, n, path, "internal error: bad schema row");
	}
}

/* ---- mappings -------------------------------------------------------------
 */

/* Levenshtein distance, ignoring case (bounded inputs: keys). */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), prev[129], cur[129];

	if (la > 128 || lb > 128)
		return (size_t)-1;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t sub =
			    prev[j - 1] + (tolower((unsigned char)a[i - 1]) !=
			                      tolower((unsigned char)b[j - 1]));
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;

			cur[j] = sub < del ? (sub < ins ? sub : ins)
			                   : (del < ins ? del : ins);
		}
		memcpy(prev, cur, (lb + 1) * sizeof(*prev));
	}
	return prev[lb];
}

/*
 * Finds key (up to case) below t's sections and templates, depth first,
 * and writes its path relative to t ("kpl.RateLimit",
 * "default-consumer.worker").  Only a few levels exist.
 */
static int
find_nested(const struct conf_table *t, const char *key, int depth, char *buf,
    size_t len)
{
	for (size_t i = 0; i < t->n_keys && depth > 0; i++) {
		const struct conf_key *k = &t->keys[i];
		char rest[160];

		if (k->type != CONF_T_SECTION && k->type != CONF_T_TEMPLATE)
			continue;
		for (size_t j = 0; j < k->sub->n_keys; j++) {
			if (k->sub->keys[j].type != CONF_T_IGNORED &&
			    strcasecmp(k->sub->keys[j].name, key) == 0) {
				snprintf(buf, len, "%s.%s", k->name,
				    k->sub->keys[j].name);
				return 1;
			}
		}
		if (find_nested(k->sub, key, depth - 1, rest, sizeof(rest))) {
			/* Keys are short; a cut suggestion is still a hint. */
			if ((size_t)snprintf(
			        buf, len, "%s.%s", k->name, rest) >= len)
				buf[len - 1] = '\0';
			return 1;
		}
	}
	return 0;
}

/*
 * The known key nearest to an unknown one.  A key that exists (up to case)
 * further down is suggested with its path ("kpl.RateLimit"): a common
 * mistake is writing a KPL key directly under the producer.
 */
static void
suggest_key(const struct conf_table *t, const char *key, char *buf, size_t len)
{
	size_t best = (size_t)-1;

	buf[0] = '\0';
	if (find_nested(t, key, 2, buf, len))
		return;
	for (size_t i = 0; i < t->n_keys; i++) {
		const struct conf_key *k = &t->keys[i];
		size_t d;

		if (k->type == CONF_T_IGNORED)
			continue;
		if ((d = edit_distance(key, k->name)) < best) {
			best = d;
			snprintf(buf, len, "%s", k->name);
		}
	}
}

static const struct conf_key *
table_find(const struct conf_table *t, const char *key)
{
	for (size_t i = 0; i < t->n_keys; i++)
		if (strcmp(t->keys[i].name, key) == 0)
			return &t->keys[i];
	return NULL;
}

static void
path_join(char *buf, size_t len, const char *path, const char *key)
{
	snprintf(buf, len, "%s%s%s", path, *path != '\0' ? "." : "", key);
}

/*
 * Checks that pair i's key is a scalar that no earlier pair of the mapping
 * uses (YAML says keys are unique; libyaml does not check).
 */
static int
check_key(struct conf_loader *l, const yaml_node_t *map, size_t i,
    const char *path, yaml_node_t **keyp)
{
	yaml_node_pair_t *pairs = map->data.mapping.pairs.start;
	yaml_node_t *key = yaml_document_get_node(l->doc, pairs[i].key);
	char sub[PATH_MAX_LEN];

	if (key == NULL || key->type != YAML_SCALAR_NODE)
		return fail_expected(
		    l, key != NULL ? key : map, path, "a key (a plain name)");
	for (size_t j = 0; j < i; j++) {
		yaml_node_t *other =
		    yaml_document_get_node(l->doc, pairs[j].key);

		if (other != NULL && other->type == YAML_SCALAR_NODE &&
		    strcmp(scalar(other), scalar(key)) == 0) {
			path_join(sub, sizeof(sub), path, scalar(key));
			return conf_fail(l, key, sub,
			    "duplicate key (first at line %lu)",
			    (unsigned long)other->start_mark.line + 1);
		}
	}
	*keyp = key;
	return 0;
}

static size_t
mapping_size(const yaml_node_t *map)
{
	return (size_t)(map->data.mapping.pairs.top -
	                map->data.mapping.pairs.start);
}

int
conf_apply_mapping(struct conf_loader *l, const struct conf_table *t,
    void *base, yaml_node_t *map, const char *path)
{
	char sub[PATH_MAX_LEN], near[160];

	if (node_is_null(map))
		return 0; /* "kpl:" with nothing: no change */
	if (map->type != YAML_MAPPING_NODE)
		return fail_expected(l, map, path, "a mapping");
	for (size_t i = 0; i < mapping_size(map); i++) {
		yaml_node_pair_t *pair = map->data.mapping.pairs.start + i;
		const struct conf_key *k;
		yaml_node_t *key, *value;

		if (check_key(l, map, i, path, &key) == -1)
			return -1;
		value = yaml_document_get_node(l->doc, pair->value);
		path_join(sub, sizeof(sub), path, scalar(key));
		if ((k = table_find(t, scalar(key))) == NULL) {
			suggest_key(t, scalar(key), near, sizeof(near));
			return conf_fail(l, key, sub,
			    "unknown key \"%s\"; did you mean \"%s\"?",
			    scalar(key), near);
		}
		switch (k->type) {
		case CONF_T_IGNORED:
			log_warnx("conf",
			    "%s:%lu:%lu: %s: ignored, no meaning "
			    "in kinesisd (%s)",
			    l->name, (unsigned long)key->start_mark.line + 1,
			    (unsigned long)key->start_mark.column + 1, sub,
			    k->doc);
			break;
		case CONF_T_SECTION:
			if (conf_apply_mapping(l, k->sub,
			        (char *)base + k->offset, value, sub) == -1)
				return -1;
			break;
		case CONF_T_TEMPLATE:
		case CONF_T_NAMED:
			/* Applied once the top level is known (load step 2). */
			l->deferred[(k->sub == &conf_consumer_table) * 2 +
			            (k->type == CONF_T_NAMED)] = value;
			break;
		default:
			if (apply_value(l, k, base, value, sub) == -1)
				return -1;
			break;
		}
	}
	return 0;
}

/* ---- producers and consumers
 * ------------------------------------------------- */

/* Producer and consumer names travel in the protocol and metric labels. */
static int
check_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 128)
		return -1;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("_.:-", *s) == NULL)
			return -1;
	return 0;
}

/*
 * Builds every entry of producers: (or consumers:): a copy of the template
 * with the entry's own mapping applied.  The array is zeroed and counted
 * before it is filled so that conf_free() can always release it.
 */
int
conf_build_named(struct conf_loader *l, int consumers, const void *tmpl)
{
	const struct conf_table *t =
	    consumers ? &conf_consumer_table : &conf_producer_table;
	const char *what = consumers ? "consumers" : "producers";
	size_t size = consumers ? sizeof(struct conf_consumer)
	                        : sizeof(struct conf_producer);
	yaml_node_t *map = l->deferred[consumers * 2 + 1], *key, *value;
	char sub[PATH_MAX_LEN];
	size_t n;
	char *arr;

	if (map == NULL || node_is_null(map))
		return 0;
	if (map->type != YAML_MAPPING_NODE)
		return fail_expected(l, map, what, "a mapping of names");
	if ((n = mapping_size(map)) == 0)
		return 0;
	if ((arr = calloc(n, size)) == NULL)
		return conf_fail_nomem(l);
	if (consumers) {
		l->conf->consumers = (struct conf_consumer *)(void *)arr;
		l->conf->n_consumers = n;
	} else {
		l->conf->producers = (struct conf_producer *)(void *)arr;
		l->conf->n_producers = n;
	}
	for (size_t i = 0; i < n; i++) {
		yaml_node_pair_t *pair = map->data.mapping.pairs.start + i;
		void *entry = arr + i * size;
		char **name = consumers
		                  ? &((struct conf_consumer *)entry)->name
		                  : &((struct conf_producer *)entry)->name;

		if (check_key(l, map, i, what, &key) == -1)
			return -1;
		path_join(sub, sizeof(sub), what, scalar(key));
		if (check_name(scalar(key)) == -1)
			return fail_expected(
			    l, key, sub, "a name of 1-128 [a-zA-Z0-9_.:-]");
		value = yaml_document_get_node(l->doc, pair->value);
		if (!node_is_null(value) && value->type != YAML_MAPPING_NODE)
			return fail_expected(l, value, sub, "a mapping");
		if (conf_table_copy(t, entry, tmpl) == -1 ||
		    (*name = strdup(scalar(key))) == NULL)
			return conf_fail_nomem(l);
		if (conf_apply_mapping(l, t, entry, value, sub) == -1)
			return -1;
		if (conf_finish_entry(l, consumers, entry, key, sub) == -1)
			return -1;
	}
	return 0;
}

/* ---- the document
 * ------------------------------------------------------------ */

static int
fail_parser(struct conf_loader *l, const yaml_parser_t *p)
{
	const char *problem = p->problem != NULL ? p->problem : "malformed";

	/* libyaml 0.2.5 fails some allocations without setting an error. */
	if (p->error == YAML_MEMORY_ERROR || p->error == YAML_NO_ERROR)
		return conf_fail_nomem(l);
	if (p->error == YAML_READER_ERROR)
		return conf_fail(l, NULL, "",
		    "cannot read YAML: %s (at byte %lu)", problem,
		    (unsigned long)p->problem_offset);
	if (p->context != NULL)
		return conf_fail_mark(l, &p->problem_mark, "",
		    "invalid YAML: %s, %s at line %lu column %lu", problem,
		    p->context, (unsigned long)p->context_mark.line + 1,
		    (unsigned long)p->context_mark.column + 1);
	return conf_fail_mark(
	    l, &p->problem_mark, "", "invalid YAML: %s", problem);
}

/*
 * Composes the single document of the stream into *doc.  Returns 0 (doc
 * must then be deleted) or -1 with the error set (doc holds nothing).
 */
static int
parse_document(struct conf_loader *l, yaml_parser_t *p, yaml_document_t *doc)
{
	yaml_document_t extra;
	yaml_node_t *root;

	if (!yaml_parser_load(p, doc))
		return fail_parser(l, p);
	if (!yaml_parser_load(p, &extra)) {
		yaml_document_delete(doc);
		return fail_parser(l, p);
	}
	root = yaml_document_get_root_node(&extra);
	if (root != NULL) {
		/* A "---" second document: one file is one configuration. */
		yaml_mark_t mark = root->start_mark;

		yaml_document_delete(&extra);
		yaml_document_delete(doc);
		return conf_fail_mark(
		    l, &mark, "", "expected one YAML document, found a second");
	}
	yaml_document_delete(&extra);
	return 0;
}

static struct conf *
load(yaml_parser_t *p, const char *name, const char *path, char **cause)
{
	struct conf_loader l = {.name = name, .cause = cause};
	yaml_document_t doc;
	yaml_node_t *root;

	*cause = NULL;
	if ((l.conf = calloc(1, sizeof(*l.conf))) == NULL) {
		conf_fail_nomem(&l);
		return NULL;
	}
	if (path != NULL && (l.conf->path = strdup(path)) == NULL) {
		conf_fail_nomem(&l);
		goto fail_conf;
	}
	if (conf_table_defaults(&conf_top_table, l.conf) == -1) {
		conf_fail_nomem(&l);
		goto fail_conf;
	}
	if (parse_document(&l, p, &doc) == -1)
		goto fail_conf;
	l.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (root != NULL && !node_is_null(root) &&
	    root->type != YAML_MAPPING_NODE) {
		fail_expected(&l, root, "", "a mapping at the top level");
		goto fail;
	}
	if (root != NULL &&
	    conf_apply_mapping(&l, &conf_top_table, l.conf, root, "") == -1)
		goto fail;
	if (conf_finish(&l) == -1)
		goto fail;
	yaml_document_delete(&doc);
	return l.conf;
fail:
	yaml_document_delete(&doc);
fail_conf:
	conf_free(l.conf);
	return NULL;
}

/*
 * libyaml reads the file through stdio; a read error surfaces as a
 * YAML_READER_ERROR ("cannot read YAML").
 */
struct conf *
conf_load(const char *path, char **cause)
{
	yaml_parser_t parser;
	struct conf *conf;
	FILE *fp;

	*cause = NULL;
	if (path == NULL || *path == '\0') {
		path = getenv("KINESISD_CONFIG");
		if (path == NULL || *path == '\0')
			path = "/etc/kinesisd/kinesisd.yaml";
	}
	if ((fp = fopen(path, "r")) == NULL) {
		if (asprintf(cause, "%s: cannot open: %s", path,
		        strerror(errno)) < 0)
			*cause = NULL;
		return NULL;
	}
	if (!yaml_parser_initialize(&parser)) {
		fclose(fp);
		*cause = strdup("out of memory");
		return NULL;
	}
	yaml_parser_set_input_file(&parser, fp);
	conf = load(&parser, path, path, cause);
	yaml_parser_delete(&parser);
	fclose(fp);
	return conf;
}

struct conf *
conf_load_string(const char *text, const char *name, char **cause)
{
	yaml_parser_t parser;
	struct conf *conf;

	*cause = NULL;
	if (!yaml_parser_initialize(&parser)) {
		*cause = strdup("out of memory");
		return NULL;
	}
	yaml_parser_set_input_string(
	    &parser, (const unsigned char *)text, strlen(text));
	conf = load(&parser, name != NULL ? name : "<string>", NULL, cause);
	yaml_parser_delete(&parser);
	return conf;
}
