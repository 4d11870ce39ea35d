# cloudlet-storaged: the storage server (included by the top-level Makefile).
# Signature scanning (scan.c, by its own fragment scan.mk) is linked in.
STORAGE_SRC = src/storage/csum.c src/storage/nbd.c src/storage/pool.c src/storage/meta.c \
              src/storage/volume.c src/storage/alert.c src/storage/repair.c \
              src/storage/nbdserver.c src/storage/control.c src/storage/scanner.c
STORAGE_OBJ = $(patsubst src/%.c,$(BUILD)/obj/%.o,$(STORAGE_SRC))

-include src/storage/scan.mk

$(STORAGE_OBJ) $(BUILD)/obj/storage/storaged.o: CPPFLAGS += -Isrc/storage

$(BUILD)/bin/cloudlet-storaged: $(BUILD)/obj/storage/storaged.o $(STORAGE_OBJ) $(SCAN_OBJ) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(ALLFLAGS) -o $@ $^ $(SCAN_LIBS) $(LIBS)

all: $(BUILD)/bin/cloudlet-storaged

# Unit tests of the storage server (cmocka), linked against its objects.
STORAGE_UNIT = $(patsubst tests/unit/storage/%.c,$(BUILD)/tests/storage/%, \
                 $(filter-out tests/unit/storage/test_scan.c,$(wildcard tests/unit/storage/test_*.c)))

$(STORAGE_UNIT): $(BUILD)/tests/storage/%: tests/unit/storage/%.c $(STORAGE_OBJ) $(SCAN_OBJ) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Isrc/storage $(ALLFLAGS) -o $@ $< $(STORAGE_OBJ) $(SCAN_OBJ) \
	    $(COMMON_OBJ) $(SCAN_LIBS) $(LIBS) -lcmocka

.PHONY: storage-unit
storage-unit: $(STORAGE_UNIT) $(if $(wildcard src/storage/scan.c),scan-unit)
	@for t in $(STORAGE_UNIT); do echo "== $$t"; $$t || exit 1; done
