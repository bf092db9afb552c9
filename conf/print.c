/*
 * conf/print.c — the schema tables turned into text: the effective
 * configuration (--check-config), the built-in defaults (--print-defaults)
 * and the Markdown reference (docs/config.md).
 *
 * Both YAML printers write block-style YAML that conf_load() reads back to
 * the same values: strings always double-quoted and escaped, unset strings
 * as "~", socket-mode as a quoted octal string.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "conf/schema.h"

/* YAML double-quoted scalar: the escapes libyaml reads back. */
static void
print_quoted(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		/* YAML reads U+0085, U+2028 and U+2029 as line breaks, and
		 * folds them to a space inside quotes: write their escapes. */
		if (c == 0xc2 && (unsigned char)s[1] == 0x85) {
			fputs("\\N", fp);
			s++;
			continue;
		}
		if (c == 0xe2 && (unsigned char)s[1] == 0x80 &&
		    ((unsigned char)s[2] == 0xa8 ||
		        (unsigned char)s[2] == 0xa9)) {
			fputs((unsigned char)s[2] == 0xa8 ? "\\L" : "\\P", fp);
			s += 2;
			continue;
		}
		if (c == '"' || c == '\\')
			fprintf(fp, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", fp);
		else if (c == '\t')
			fputs("\\t", fp);
		else if (c < 0x20 || c == 0x7f)
			fprintf(fp, "\\x%02x", c);
		else
			fputc(c, fp);
	}
	fputc('"', fp);
}

/* The shortest %g that strtod() turns back into the same double. */
static void
print_double(FILE *fp, double d)
{
	char buf[64];

	/* Whole numbers as people write them: 100, not 1e+02. */
	if (d == (double)(long long)d && d > -1e15 && d < 1e15) {
		fprintf(fp, "%lld", (long long)d);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	fputs(buf, fp);
}

static void
print_value(FILE *fp, const struct conf_key *k, const void *base)
{
	switch (k->type) {
	case CONF_T_STRING: {
		const char *s = *CONF_CFIELD(base, k, char *);

		if (s == NULL)
			fputs("~", fp);
		else
			print_quoted(fp, s);
		break;
	}
	case CONF_T_BOOL:
		fputs(*CONF_CFIELD(base, k, int) ? "true" : "false", fp);
		break;
	case CONF_T_UINT:
		fprintf(fp, "%" PRIu64, *CONF_CFIELD(base, k, uint64_t));
		break;
	case CONF_T_DOUBLE:
		print_double(fp, *CONF_CFIELD(base, k, double));
		break;
	case CONF_T_MODE:
		fprintf(fp, "\"%04o\"", *CONF_CFIELD(base, k, unsigned));
		break;
	case CONF_T_ENUM:
		fputs(k->names[*CONF_CFIELD(base, k, int)], fp);
		break;
	case CONF_T_UIDS:
	case CONF_T_GIDS: {
		const uint32_t *ids = *CONF_CFIELD(base, k, uint32_t *);
		size_t n = *(const size_t *)(const void *)((const char *)base +
		                                           k->count_offset);

		fputc('[', fp);
		for (size_t i = 0; i < n; i++)
			fprintf(fp, "%s%" PRIu32, i > 0 ? ", " : "", ids[i]);
		fputc(']', fp);
		break;
	}
	default:
		break;
	}
}

/* The allowed values of a key, for comments and the reference. */
static void
print_range(FILE *fp, const struct conf_key *k)
{
	switch (k->type) {
	case CONF_T_BOOL:
		fputs("true, false", fp);
		break;
	case CONF_T_UINT:
		if (k->max_u >= (uint64_t)INT64_MAX)
			fprintf(fp, ">= %" PRIu64, k->min_u);
		else
			fprintf(
			    fp, "%" PRIu64 "..%" PRIu64, k->min_u, k->max_u);
		if (k->unit != NULL)
			fprintf(fp, " %s", k->unit);
		break;
	case CONF_T_DOUBLE:
		print_double(fp, k->min_d);
		fputs("..", fp);
		print_double(fp, k->max_d);
		break;
	case CONF_T_MODE:
		fprintf(fp, "\"0000\"..\"%04o\"", (unsigned)k->max_u);
		break;
	case CONF_T_ENUM:
		for (size_t i = 0; k->names[i] != NULL; i++)
			fprintf(fp, "%s%s", i > 0 ? ", " : "", k->names[i]);
		break;
	case CONF_T_STRING:
		if (k->min_u == k->max_u || k->max_u == 0)
			break;
		fprintf(
		    fp, "%" PRIu64 "..%" PRIu64 " bytes", k->min_u, k->max_u);
		break;
	default:
		break;
	}
}

/* Reference text without its Markdown backticks, for YAML comments. */
static void
print_unquoted_md(FILE *fp, const char *s)
{
	for (; *s != '\0'; s++)
		if (*s != '`')
			fputc(*s, fp);
}

static void
indent(FILE *fp, int n)
{
	fprintf(fp, "%*s", n, "");
}

/*
 * Prints the rows of t found at base.  With comments, each key gets its
 * doc and range above it (--print-defaults); required keys that are unset
 * are shown as a comment, since no default can stand for them.
 */
static void
print_table(FILE *fp, const struct conf_table *t, const void *base, int ind,
    int comments)
{
	for (size_t i = 0; i < t->n_keys; i++) {
		const struct conf_key *k = &t->keys[i];

		switch (k->type) {
		case CONF_T_IGNORED:
		case CONF_T_TEMPLATE:
		case CONF_T_NAMED:
			continue;
		case CONF_T_SECTION:
			if (comments) {
				indent(fp, ind);
				fprintf(fp, "# %s\n", k->doc);
			}
			indent(fp, ind);
			fprintf(fp, "%s:\n", k->name);
			print_table(fp, k->sub, (const char *)base + k->offset,
			    ind + 2, comments);
			continue;
		default:
			break;
		}
		if (comments) {
			indent(fp, ind);
			fprintf(fp, "# %s", k->doc);
			if (k->type != CONF_T_STRING &&
			    k->type != CONF_T_BOOL && k->type != CONF_T_UIDS &&
			    k->type != CONF_T_GIDS) {
				fputs(" (", fp);
				print_range(fp, k);
				fputs(")", fp);
			}
			if (k->def_doc != NULL) {
				fputs("; unset: ", fp);
				print_unquoted_md(fp, k->def_doc);
			}
			fputc('\n', fp);
		}
		indent(fp, ind);
		if ((k->flags & CONF_F_REQUIRED) &&
		    *CONF_CFIELD(base, k, char *) == NULL) {
			fprintf(fp, "# %s: (required)\n", k->name);
			continue;
		}
		fprintf(fp, "%s: ", k->name);
		print_value(fp, k, base);
		fputc('\n', fp);
	}
}

void
conf_print(const struct conf *c, FILE *fp)
{
	fprintf(fp, "# kinesisd: effective configuration");
	if (c->path != NULL)
		fprintf(fp, " of %s", c->path);
	fputs("\n# (defaults, default-producer/-consumer and the environment "
	      "merged in)\n",
	    fp);
	print_table(fp, &conf_top_table, c, 0, 0);
	if (c->n_producers == 0)
		fputs("producers: {}\n", fp);
	else
		fputs("producers:\n", fp);
	for (size_t i = 0; i < c->n_producers; i++) {
		indent(fp, 2);
		print_quoted(fp, c->producers[i].name);
		fputs(":\n", fp);
		print_table(fp, &conf_producer_table, &c->producers[i], 4, 0);
	}
	if (c->n_consumers == 0)
		fputs("consumers: {}\n", fp);
	else
		fputs("consumers:\n", fp);
	for (size_t i = 0; i < c->n_consumers; i++) {
		indent(fp, 2);
		print_quoted(fp, c->consumers[i].name);
		fputs(":\n", fp);
		print_table(fp, &conf_consumer_table, &c->consumers[i], 4, 0);
	}
}

/* The three structs whose tables hold every key, at their defaults. */
struct defaults {
	struct conf top;
	struct conf_producer producer;
	struct conf_consumer consumer;
};

static int
defaults_make(struct defaults *d)
{
	memset(d, 0, sizeof(*d));
	if (conf_table_defaults(&conf_top_table, &d->top) == -1 ||
	    conf_table_defaults(&conf_producer_table, &d->producer) == -1 ||
	    conf_table_defaults(&conf_consumer_table, &d->consumer) == -1)
		return -1;
	return 0;
}

static void
defaults_clear(struct defaults *d)
{
	conf_table_clear(&conf_top_table, &d->top);
	conf_table_clear(&conf_producer_table, &d->producer);
	conf_table_clear(&conf_consumer_table, &d->consumer);
}

static const void *
defaults_for(const struct defaults *d, const struct conf_table *t)
{
	return t == &conf_producer_table ? (const void *)&d->producer
	                                 : (const void *)&d->consumer;
}

void
conf_print_defaults(FILE *fp)
{
	struct defaults d;

	if (defaults_make(&d) == -1) {
		fputs("# out of memory\n", fp);
		defaults_clear(&d);
		return;
	}
	fputs("# kinesisd: built-in defaults (reactive-kinesis reference.conf "
	      "and SPEC).\n"
	      "# Unset (~) keys come from the environment or are derived; "
	      "see docs/config.md.\n",
	    fp);
	print_table(fp, &conf_top_table, &d.top, 0, 1);
	for (size_t i = 0; i < conf_top_table.n_keys; i++) {
		const struct conf_key *k = &conf_top_table.keys[i];

		if (k->type != CONF_T_TEMPLATE)
			continue;
		fprintf(fp, "# %s\n%s:\n", k->doc, k->name);
		print_table(fp, k->sub, defaults_for(&d, k->sub), 2, 1);
	}
	fputs("# producers:                # named producers, e.g.\n"
	      "#   some-producer:\n"
	      "#     stream-name: sample-producer\n"
	      "# consumers:                # named consumers, e.g.\n"
	      "#   some-consumer:\n"
	      "#     stream-name: sample-consumer\n",
	    fp);
	defaults_clear(&d);
}

/* ---- docs/config.md --------------------------------------------------------
 */

static const char *
type_name(const struct conf_key *k)
{
	switch (k->type) {
	case CONF_T_STRING:
		return "string";
	case CONF_T_BOOL:
		return "boolean";
	case CONF_T_UINT:
		return "integer";
	case CONF_T_DOUBLE:
		return "number";
	case CONF_T_MODE:
		return "octal string";
	case CONF_T_ENUM:
		return "enum";
	case CONF_T_UIDS:
		return "list of users";
	case CONF_T_GIDS:
		return "list of groups";
	case CONF_T_SECTION:
	case CONF_T_TEMPLATE:
		return "mapping";
	case CONF_T_NAMED:
		return "mapping of names";
	case CONF_T_IGNORED:
		return "ignored";
	}
	return "?";
}

/*
 * Text for a Markdown table cell: outside `code` spans, characters that
 * GitHub would read as HTML, emphasis or a cell border are escaped.
 */
static void
print_md(FILE *fp, const char *s)
{
	int code = 0;

	for (; *s != '\0'; s++) {
		if (*s == '`')
			code = !code;
		if (*s == '|')
			fputs("\\|", fp);
		else if (!code && *s == '<')
			fputs("&lt;", fp);
		else if (!code && *s == '>')
			fputs("&gt;", fp);
		else if (!code && (*s == '*' || *s == '_'))
			fprintf(fp, "\\%c", *s);
		else
			fputc(*s, fp);
	}
}

/* Markdown anchor of a table's heading (GitHub style). */
static void
print_anchor(FILE *fp, const struct conf_table *t)
{
	for (const char *p = t->title; *p != '\0'; p++) {
		if (*p >= 'A' && *p <= 'Z')
			fputc(*p - 'A' + 'a', fp);
		else if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		         *p == '-' || *p == '_')
			fputc(*p, fp);
		else if (*p == ' ')
			fputc('-', fp);
	}
}

static void
print_md_table(FILE *fp, const struct conf_table *t, const void *base,
    const struct defaults *d)
{
	int ignored = 0;

	fprintf(fp, "## %s\n\n", t->title);
	print_md(fp, t->doc);
	fputs("\n\n", fp);
	fputs("| Key | Type | Default | Allowed | Description |\n"
	      "| --- | --- | --- | --- | --- |\n",
	    fp);
	for (size_t i = 0; i < t->n_keys; i++) {
		const struct conf_key *k = &t->keys[i];

		if (k->type == CONF_T_IGNORED) {
			ignored++;
			continue;
		}
		fprintf(fp, "| `%s` | %s", k->name, type_name(k));
		if (k->unit != NULL)
			fprintf(fp, " (%s)", k->unit);
		fputs(" | ", fp);
		if (k->sub != NULL) {
			fputs("see [", fp);
			fputs(k->sub->title, fp);
			fputs("](#", fp);
			print_anchor(fp, k->sub);
			fputs(")", fp);
		} else if (k->def_doc != NULL)
			print_md(fp, k->def_doc);
		else if (k->flags & CONF_F_REQUIRED)
			fputs("required", fp);
		else if (k->type == CONF_T_STRING &&
		         *CONF_CFIELD(base, k, char *) == NULL)
			fputs("unset", fp);
		else {
			fputc('`', fp);
			print_value(fp, k, base);
			fputc('`', fp);
		}
		fputs(" | ", fp);
		print_range(fp, k);
		fputs(" | ", fp);
		print_md(fp, k->doc);
		fputs(" |\n", fp);
	}
	if (ignored > 0) {
		fputs("\nAccepted with a warning, without effect:\n\n", fp);
		for (size_t i = 0; i < t->n_keys; i++)
			if (t->keys[i].type == CONF_T_IGNORED) {
				fprintf(fp, "- `%s`: ", t->keys[i].name);
				print_md(fp, t->keys[i].doc);
				fputc('\n', fp);
			}
	}
	fputc('\n', fp);

	/* Then each nested table once, in the order the rows name them. */
	for (size_t i = 0; i < t->n_keys; i++) {
		const struct conf_key *k = &t->keys[i];

		if (k->type == CONF_T_SECTION)
			print_md_table(
			    fp, k->sub, (const char *)base + k->offset, d);
		else if (k->type == CONF_T_TEMPLATE)
			print_md_table(fp, k->sub, defaults_for(d, k->sub), d);
	}
}

void
conf_print_reference(FILE *fp)
{
	struct defaults d;

	if (defaults_make(&d) == -1) {
		fputs("out of memory\n", fp);
		defaults_clear(&d);
		return;
	}
	fputs(
	    "# kinesisd configuration reference\n"
	    "\n"
	    "<!-- Generated by `kinesisd --print-reference` (make docs) from "
	    "conf/schema.c; edit that file, not this one. -->\n"
	    "\n"
	    "kinesisd reads one YAML file: `-c FILE`, else `$KINESISD_CONFIG`, "
	    "else `/etc/kinesisd/kinesisd.yaml`. Keys keep the names "
	    "reactive-kinesis, the KPL and the KCL use. Built-in defaults are "
	    "reactive-kinesis's `reference.conf` defaults unless the table "
	    "says otherwise; `kinesisd --print-defaults` prints them as YAML "
	    "and `kinesisd --check-config` prints the effective configuration "
	    "of a file.\n"
	    "\n"
	    "Precedence, lowest first: built-in defaults, `default-producer` / "
	    "`default-consumer`, then each `producers.<name>` / "
	    "`consumers.<name>`, merged key by key (a `kpl:` mapping in a "
	    "named producer overrides only the KPL keys it lists).\n"
	    "\n"
	    "Environment: `region` unset takes `AWS_REGION`, then "
	    "`AWS_DEFAULT_REGION` (then the profile's region and IMDS, at "
	    "start-up). `endpoints.kinesis` unset takes "
	    "`AWS_ENDPOINT_URL_KINESIS`, then `AWS_ENDPOINT_URL`; "
	    "`endpoints.dynamodb` takes `AWS_ENDPOINT_URL_DYNAMODB`, then "
	    "`AWS_ENDPOINT_URL`. Empty variables count as unset.\n"
	    "\n"
	    "Errors (exit code 78) name `file:line:column`, the key path, what "
	    "was expected and what was found; an unknown key comes with the "
	    "nearest known one. KPL/KCL keys that have no meaning in kinesisd "
	    "are accepted with a warning (listed under each table). A YAML "
	    "null (`~`, or nothing) unsets an optional string. Booleans are "
	    "`true`/`false` (also `yes`/`no`, `on`/`off`); integers are plain "
	    "decimal; durations keep the unit of their KPL/KCL name.\n"
	    "\n",
	    fp);
	print_md_table(fp, &conf_top_table, &d.top, &d);
	defaults_clear(&d);
}
