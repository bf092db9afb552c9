/*
 * item.c — the lease item codec: DynamoDB attribute maps with the KCL's
 * attribute names and types (SPEC section 4) to struct lease_item and
 * back, and the sequence number comparison the checkpointer relies on.
 *
 * Decoding is strict about the attributes the lease logic depends on
 * (leaseKey S, leaseCounter N) and lenient about the rest, because a table
 * may have been written by any KCL version: a missing optional attribute
 * is simply absent, never an error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lease/lease_int.h"

char *
lease_strdup(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

void
lease_strv_free(char **v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int
lease_strv_copy(char ***dst, const char *const *src, size_t n)
{
	char **v;
	size_t i;

	*dst = NULL;
	if (n == 0)
		return 0;
	if ((v = calloc(n, sizeof(*v))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if ((v[i] = strdup(src[i])) == NULL) {
			lease_strv_free(v, i);
			return -1;
		}
	}
	*dst = v;
	return 0;
}

/* ---- sequence numbers ---------------------------------------------------- */

int
lease_seq_valid(const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/*
 * Kinesis sequence numbers are decimals of up to 128 bits, beyond any C
 * integer: compare them as digit strings, leading zeros ignored, length
 * first.  Anything not decimal falls back to strcmp so the order stays
 * total (the callers validate first).
 */
int
lease_seq_cmp(const char *a, const char *b)
{
	size_t la, lb;
	int c;

	if (a == NULL || b == NULL)
		return a == b ? 0 : (a == NULL ? -1 : 1);
	if (!lease_seq_valid(a) || !lease_seq_valid(b)) {
		c = strcmp(a, b);
		return c < 0 ? -1 : c > 0;
	}
	while (*a == '0' && a[1] != '\0')
		a++;
	while (*b == '0' && b[1] != '\0')
		b++;
	la = strlen(a);
	lb = strlen(b);
	if (la != lb)
		return la < lb ? -1 : 1;
	c = strcmp(a, b);
	return c < 0 ? -1 : c > 0;
}

int
lease_is_sentinel(const char *cp)
{
	return cp != NULL && (strcmp(cp, LEASE_TRIM_HORIZON) == 0 ||
	                         strcmp(cp, LEASE_LATEST) == 0 ||
	                         strcmp(cp, LEASE_AT_TIMESTAMP) == 0 ||
	                         strcmp(cp, LEASE_SHARD_END) == 0);
}

int
lease_checkpoint_begun(const char *cp)
{
	if (cp == NULL)
		return 0;
	return strcmp(cp, LEASE_TRIM_HORIZON) != 0 &&
	       strcmp(cp, LEASE_LATEST) != 0 &&
	       strcmp(cp, LEASE_AT_TIMESTAMP) != 0;
}

/* ---- decode ----------------------------------------------------------------
 */

/* The value of a typed attribute ({"S":"..."}), or NULL. */
static const cJSON *
item_attr(const cJSON *item, const char *name, const char *type)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(item, name);

	if (!cJSON_IsObject(a))
		return NULL;
	return cJSON_GetObjectItemCaseSensitive(a, type);
}

static const char *
item_s(const cJSON *item, const char *name)
{
	const cJSON *v = item_attr(item, name, "S");

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* 1 and *out for a present N attribute holding a non-negative integer,
 * 0 when absent, -1 when present but not such a number. */
static int
item_n(const cJSON *item, const char *name, uint64_t *out)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(item, name);
	const cJSON *v;
	unsigned long long x;
	char *end;

	if (a == NULL)
		return 0;
	v = cJSON_GetObjectItemCaseSensitive(a, "N");
	if (!cJSON_IsString(v) || v->valuestring[0] < '0' ||
	    v->valuestring[0] > '9')
		return -1;
	errno = 0;
	x = strtoull(v->valuestring, &end, 10);
	/* "5.0" is how some writers spell an integer N. */
	if (*end == '.') {
		for (end++; *end == '0'; end++)
			;
	}
	if (errno != 0 || *end != '\0')
		return -1;
	*out = x;
	return 1;
}

/* A string set (SS), or a lone S as some old writers left it. */
static int
item_ss(const cJSON *item, const char *name, char ***out, size_t *n)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(item, name);
	const cJSON *ss, *e;
	const char *one;
	size_t i = 0, cnt;

	*out = NULL;
	*n = 0;
	if (a == NULL)
		return 0;
	if ((one = item_s(item, name)) != NULL) {
		if ((*out = calloc(1, sizeof(**out))) == NULL ||
		    ((*out)[0] = strdup(one)) == NULL) {
			free(*out);
			*out = NULL;
			return -1;
		}
		*n = 1;
		return 0;
	}
	ss = cJSON_GetObjectItemCaseSensitive(a, "SS");
	if (!cJSON_IsArray(ss))
		return -1;
	if ((cnt = (size_t)cJSON_GetArraySize(ss)) == 0)
		return 0;
	if ((*out = calloc(cnt, sizeof(**out))) == NULL)
		return -1;
	cJSON_ArrayForEach(e, ss)
	{
		if (!cJSON_IsString(e) ||
		    ((*out)[i] = strdup(e->valuestring)) == NULL) {
			lease_strv_free(*out, i);
			*out = NULL;
			return -1;
		}
		i++;
	}
	*n = i;
	return 0;
}

static int
item_dup(char **dst, const char *src)
{
	if (src == NULL) {
		*dst = NULL;
		return 0;
	}
	return (*dst = strdup(src)) != NULL ? 0 : -1;
}

enum lease_decode
lease_item_decode(const cJSON *item, struct lease_item *out, const char **cause)
{
	const char *key, *entity;
	int rc;

	memset(out, 0, sizeof(*out));
	*cause = NULL;
	if (!cJSON_IsObject(item)) {
		*cause = "not an attribute map";
		return LEASE_DECODE_BAD;
	}
	/* KCL 3.x keeps worker metrics and other entities in the same
	 * table; they are not leases. */
	entity = item_s(item, LEASE_A_ENTITY);
	if (cJSON_GetObjectItemCaseSensitive(item, LEASE_A_ENTITY) != NULL &&
	    (entity == NULL || strcmp(entity, "LEASE") != 0))
		return LEASE_DECODE_SKIP;
	if ((key = item_s(item, LEASE_A_KEY)) == NULL || *key == '\0') {
		*cause = "no leaseKey string";
		return LEASE_DECODE_BAD;
	}
	if ((rc = item_n(item, LEASE_A_COUNTER, &out->counter)) != 1) {
		*cause =
		    rc == 0 ? "no leaseCounter" : "leaseCounter not a number";
		return LEASE_DECODE_BAD;
	}
	if (item_n(item, LEASE_A_SUBSEQ, &out->checkpoint_subseq) < 0 ||
	    item_n(item, LEASE_A_SWITCHES, &out->owner_switches) < 0) {
		*cause = "a counter attribute is not a number";
		goto bad;
	}
	if ((rc = item_n(item, LEASE_A_PENDING_SUB, &out->pending_subseq)) <
	    0) {
		*cause = "pendingCheckpointSubSequenceNumber not a number";
		goto bad;
	}
	out->has_pending_subseq = rc == 1;
	if (item_dup(&out->shard_id, key) != 0 ||
	    item_dup(&out->owner, item_s(item, LEASE_A_OWNER)) != 0 ||
	    item_dup(&out->checkpoint, item_s(item, LEASE_A_CHECKPOINT)) != 0 ||
	    item_dup(&out->pending_checkpoint, item_s(item, LEASE_A_PENDING)) !=
	        0 ||
	    item_dup(&out->hash_start, item_s(item, LEASE_A_HASH_START)) != 0 ||
	    item_dup(&out->hash_end, item_s(item, LEASE_A_HASH_END)) != 0) {
		*cause = "out of memory";
		goto bad;
	}
	if (item_ss(item, LEASE_A_PARENTS, &out->parents, &out->n_parents) !=
	        0 ||
	    item_ss(item, LEASE_A_CHILDREN, &out->children, &out->n_children) !=
	        0) {
		*cause = "parentShardId or childShardIds is not a string set";
		goto bad;
	}
	return LEASE_DECODE_OK;
bad:
	lease_item_clear(out);
	return LEASE_DECODE_BAD;
}

/* ---- encode ----------------------------------------------------------------
 */

static int
enc_typed(cJSON *item, const char *name, const char *type, const char *v)
{
	cJSON *a;

	if (v == NULL)
		return 0;
	if ((a = cJSON_AddObjectToObject(item, name)) == NULL)
		return -1;
	return cJSON_AddStringToObject(a, type, v) != NULL ? 0 : -1;
}

static int
enc_n(cJSON *item, const char *name, uint64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	return enc_typed(item, name, "N", buf);
}

static int
enc_ss(cJSON *item, const char *name, char *const *v, size_t n)
{
	cJSON *a, *arr, *s;
	size_t i;

	/* DynamoDB refuses empty sets: absent means none, as in the KCL. */
	if (n == 0)
		return 0;
	if ((a = cJSON_AddObjectToObject(item, name)) == NULL ||
	    (arr = cJSON_AddArrayToObject(a, "SS")) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		/* Sets hold no duplicates; a merge's two parents differ,
		 * but an item read from elsewhere may repeat one. */
		size_t j;
		for (j = 0; j < i && strcmp(v[j], v[i]) != 0; j++)
			;
		if (j < i)
			continue;
		if ((s = cJSON_CreateString(v[i])) == NULL ||
		    !cJSON_AddItemToArray(arr, s)) {
			cJSON_Delete(s);
			return -1;
		}
	}
	return 0;
}

cJSON *
lease_item_encode(const struct lease_item *it)
{
	cJSON *item;

	if (it == NULL || it->shard_id == NULL ||
	    (item = cJSON_CreateObject()) == NULL)
		return NULL;
	if (enc_typed(item, LEASE_A_KEY, "S", it->shard_id) != 0 ||
	    enc_typed(item, LEASE_A_OWNER, "S", it->owner) != 0 ||
	    enc_n(item, LEASE_A_COUNTER, it->counter) != 0 ||
	    enc_typed(item, LEASE_A_CHECKPOINT, "S", it->checkpoint) != 0 ||
	    enc_n(item, LEASE_A_SUBSEQ, it->checkpoint_subseq) != 0 ||
	    enc_typed(item, LEASE_A_PENDING, "S", it->pending_checkpoint) !=
	        0 ||
	    (it->has_pending_subseq &&
	        enc_n(item, LEASE_A_PENDING_SUB, it->pending_subseq) != 0) ||
	    enc_n(item, LEASE_A_SWITCHES, it->owner_switches) != 0 ||
	    enc_ss(item, LEASE_A_PARENTS, it->parents, it->n_parents) != 0 ||
	    enc_ss(item, LEASE_A_CHILDREN, it->children, it->n_children) != 0 ||
	    enc_typed(item, LEASE_A_HASH_START, "S", it->hash_start) != 0 ||
	    enc_typed(item, LEASE_A_HASH_END, "S", it->hash_end) != 0) {
		cJSON_Delete(item);
		return NULL;
	}
	return item;
}

/* ---- the rest --------------------------------------------------------------
 */

void
lease_item_clear(struct lease_item *it)
{
	if (it == NULL)
		return;
	free(it->shard_id);
	free(it->owner);
	free(it->checkpoint);
	free(it->pending_checkpoint);
	lease_strv_free(it->parents, it->n_parents);
	lease_strv_free(it->children, it->n_children);
	free(it->hash_start);
	free(it->hash_end);
	memset(it, 0, sizeof(*it));
}

int
lease_item_copy(struct lease_item *dst, const struct lease_item *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->counter = src->counter;
	dst->checkpoint_subseq = src->checkpoint_subseq;
	dst->pending_subseq = src->pending_subseq;
	dst->has_pending_subseq = src->has_pending_subseq;
	dst->owner_switches = src->owner_switches;
	if (item_dup(&dst->shard_id, src->shard_id) != 0 ||
	    item_dup(&dst->owner, src->owner) != 0 ||
	    item_dup(&dst->checkpoint, src->checkpoint) != 0 ||
	    item_dup(&dst->pending_checkpoint, src->pending_checkpoint) != 0 ||
	    item_dup(&dst->hash_start, src->hash_start) != 0 ||
	    item_dup(&dst->hash_end, src->hash_end) != 0 ||
	    lease_strv_copy(&dst->parents, (const char *const *)src->parents,
	        src->n_parents) != 0)
		goto fail;
	dst->n_parents = src->n_parents;
	if (lease_strv_copy(&dst->children, (const char *const *)src->children,
	        src->n_children) != 0)
		goto fail;
	dst->n_children = src->n_children;
	return 0;
fail:
	lease_item_clear(dst);
	return -1;
}

void
lease_item_info(const struct lease_item *it, struct lease_info *info)
{
	memset(info, 0, sizeof(*info));
	info->shard_id = it->shard_id;
	info->owner = it->owner;
	info->counter = it->counter;
	info->checkpoint = it->checkpoint;
	info->checkpoint_subseq = it->checkpoint_subseq;
	info->parents = (const char *const *)it->parents;
	info->n_parents = it->n_parents;
	info->hash_start = it->hash_start;
	info->hash_end = it->hash_end;
}

int
lease_item_has_parent(const struct lease_item *it, const char *shard_id)
{
	size_t i;

	for (i = 0; i < it->n_parents; i++)
		if (strcmp(it->parents[i], shard_id) == 0)
			return 1;
	return 0;
}
