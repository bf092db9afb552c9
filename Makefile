# kinesisd — build, test, demo.
#
#   make            kinesisd, kinesisctl, the client libraries
#   make test       deps, unit tests (plain, then ASan+UBSan), integration tests
#   make demo       deps, local Kinesis + DynamoDB, kinesisd, records flowing
#   make install    PREFIX=/usr/local DESTDIR=
#
# Each top-level folder is one subsystem, built into build/<variant>/lib<dir>.a.
# SAN=1 builds the same tree into build/san with AddressSanitizer and
# UndefinedBehaviorSanitizer.

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc

PKGS    := libevent libcurl libcrypto libcjson yaml-0.1
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

ifeq ($(SAN),1)
VARIANT := san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined
OPT     := -O1 -fno-omit-frame-pointer $(SANFLAGS)
else
VARIANT := plain
SANFLAGS :=
OPT     := -O2
endif
B := build/$(VARIANT)

CFLAGS  ?=
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
           -Wstrict-prototypes -Wmissing-prototypes -g $(OPT) -I. $(PKG_CFLAGS)
LDFLAGS += $(SANFLAGS)
LDLIBS  += $(PKG_LIBS) -lm

# Subsystems linked into the daemon, in dependency order (users first).
MODULES := ipc metrics producer consumer lease kinesis dynamo kpl aws conf log
MODULES := $(foreach m,$(MODULES),$(if $(wildcard $(m)/*.c),$(m)))
LIBS    := $(foreach m,$(MODULES),$(B)/lib$(m).a)
LINK_LIBS = -Wl,--start-group $(LIBS) -Wl,--end-group

all: kinesisd kinesisctl clients

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

define module_rule
$(B)/lib$(1).a: $(patsubst %.c,$(B)/%.o,$(wildcard $(1)/*.c))
	@rm -f $$@
	$(AR) rcs $$@ $$^
endef
$(foreach m,$(MODULES),$(eval $(call module_rule,$(m))))

DAEMON_OBJS := $(patsubst %.c,$(B)/%.o,$(wildcard daemon/*.c))
CTL_OBJS    := $(patsubst %.c,$(B)/%.o,$(wildcard ctl/*.c))

$(B)/kinesisd: $(DAEMON_OBJS) $(LIBS)
	$(CC) $(LDFLAGS) -o $@ $(DAEMON_OBJS) $(LINK_LIBS) $(LDLIBS)
$(B)/kinesisctl: $(CTL_OBJS)
	$(CC) $(LDFLAGS) -o $@ $(CTL_OBJS) $(LDLIBS)

kinesisd: $(B)/kinesisd
	cp $< $@
kinesisctl: $(B)/kinesisctl
	cp $< $@

.PHONY: all clients deps test unit unit-san integration demo install \
        format clean docs

clients:
	@if [ -f clients/c/Makefile ]; then $(MAKE) -C clients/c; fi

# ---- tests -------------------------------------------------------------
# Every tests/unit/test_*.c is one Check program linked with all modules.
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRCS))
UNIT_HELPERS := $(patsubst %.c,$(B)/%.o,$(wildcard tests/unit/lib/*.c))

# A test may name the modules it needs (TEST_MODULES_test_x := aws log), so
# it builds while unrelated modules are being changed; default: all.
include tests/unit/modules.mk
test_libs = $(foreach m,$(or $(TEST_MODULES_$(1)),$(MODULES)),$(B)/lib$(m).a)
.SECONDEXPANSION:
$(B)/tests/%: $(B)/tests/unit/%.o $(UNIT_HELPERS) $$(call test_libs,$$*)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(UNIT_HELPERS) \
		-Wl,--start-group $(filter %.a,$^) -Wl,--end-group \
		$(LDLIBS) $(CHECK_LIBS)

unit-bins: $(UNIT_BINS)

# tests/tools/kdaws: one Kinesis or DynamoDB call from the command line,
# for the integration tests; links only the modules it uses.
KDAWS_LIBS := $(foreach m,kinesis dynamo aws metrics log,$(B)/lib$(m).a)
$(B)/kdaws: $(B)/tests/tools/kdaws.o $(KDAWS_LIBS)
	$(CC) $(LDFLAGS) -o $@ $< -Wl,--start-group $(KDAWS_LIBS) \
		-Wl,--end-group $(LDLIBS)

# Runs every unit test binary from the top of the tree (fixtures are found
# relative to it); the summary lines are Check's own.
unit: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do \
		echo "== $$t"; CK_FORK=yes $$t || fail=1; \
	done; exit $$fail

unit-san:
	$(MAKE) SAN=1 unit

integration: kinesisd kinesisctl clients
	@tests/integration/run.sh

test: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) unit-san
	$(MAKE) integration

deps:
	@scripts/deps.sh

demo: deps
	$(MAKE) all
	@scripts/demo.sh

docs: kinesisd
	./kinesisd --print-reference > docs/config.md

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)/etc/kinesisd
	install -m 0755 kinesisd kinesisctl $(DESTDIR)$(PREFIX)/bin/
	if [ -d systemd ] && ls systemd/*.service >/dev/null 2>&1; then \
		install -d $(DESTDIR)/lib/systemd/system $(DESTDIR)/usr/lib/sysusers.d; \
		install -m 0644 systemd/*.service systemd/*.socket $(DESTDIR)/lib/systemd/system/; \
		install -m 0644 systemd/kinesisd.sysusers $(DESTDIR)/usr/lib/sysusers.d/kinesisd.conf; \
	fi
	[ -f $(DESTDIR)/etc/kinesisd/kinesisd.yaml ] || \
		install -m 0644 conf/kinesisd.yaml $(DESTDIR)/etc/kinesisd/kinesisd.yaml
	@if [ -f clients/c/Makefile ]; then $(MAKE) -C clients/c install PREFIX=$(PREFIX) DESTDIR=$(DESTDIR); fi

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build kinesisd kinesisctl
	@if [ -f clients/c/Makefile ]; then $(MAKE) -C clients/c clean; fi

-include $(shell find build -name '*.d' 2>/dev/null)
