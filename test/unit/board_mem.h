/*
 * The in-memory test board: every function of <sello/board.h> implemented
 * in process memory, fully controlled by the test that links it.
 *
 *   records  a static table with atomic replace semantics; a write either
 *            replaces the whole record or (when a fault is injected) leaves
 *            the old contents untouched, exactly like a power loss during
 *            an atomic write on a real board;
 *   ticks    a counter the test sets and advances (1 MHz unless changed);
 *   entropy  a deterministic counter-mode generator, SHA-256(seed || n), so
 *            every run of a test sees the same "random" octets;
 *   secret   a fixed 32-octet device secret the test may replace;
 *   simulation  sello_board_is_simulation() is true (both of the above
 *            are simulated), unless the test plays a production board;
 *   counter  the monotonic counter, kept apart from the records;
 *   token    none (sello_board_token_present() is false);
 *   frames   an optional queue of request frames for sello_module_serve and
 *            a log of the responses it sent (unit tests mostly call
 *            sello_module_handle directly).
 *
 * board_mem_reset() returns everything to the defaults listed above; call it
 * at the start of every test so that tests do not depend on each other.
 */
#ifndef SELLO_TEST_BOARD_MEM_H
#define SELLO_TEST_BOARD_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sello/board.h>

#define BOARD_MEM_RECORDS 8u          /* distinct record numbers */
#define BOARD_MEM_RECORD_MAX 8192u    /* octets per record */
#define BOARD_MEM_TICK_HZ_DEFAULT 1000000u
#define BOARD_MEM_FRAMES 8u           /* queued requests / logged responses */

/* All boards' defaults: no records, ticks 0 at 1 MHz, drift 50 ppm,
 * entropy seed 0, default secret, a simulation board, no faults, empty
 * frame queues. */
void board_mem_reset(void);

/* ---- time ---------------------------------------------------------------- */
void board_mem_set_ticks(uint64_t ticks);
uint64_t board_mem_get_ticks(void);
void board_mem_advance_ticks(uint64_t ticks);
/* Advances by `ms` milliseconds at the current tick rate. */
void board_mem_advance_ms(uint64_t ms);
void board_mem_set_tick_hz(uint32_t hz);
void board_mem_set_drift_ppm(uint32_t ppm);

/* ---- entropy and secret -------------------------------------------------- */
/* Restarts the generator from `seed` (stream position 0). */
void board_mem_seed_entropy(uint64_t seed);
/* While set, sello_board_entropy fails with SELLO_ERR_ENTROPY. */
void board_mem_fail_entropy(bool fail);
void board_mem_set_device_secret(const uint8_t secret[32]);
void board_mem_get_device_secret(uint8_t out[32]);
/* While set, sello_board_device_secret fails with SELLO_ERR_STORAGE. */
void board_mem_fail_device_secret(bool fail);
/* What sello_board_is_simulation() answers (the module reads it at
 * start): false plays a production board, where INIT needs no test-unit
 * mark. */
void board_mem_set_simulation(bool simulation);

/* ---- records ------------------------------------------------------------- */
/* Removes every record (a factory-fresh device). Faults are kept. */
void board_mem_reset_records(void);

/*
 * Makes the n-th next sello_board_nv_write fail with SELLO_ERR_STORAGE
 * without changing the record (n = 1: the very next write). One-shot: later
 * writes succeed again. n = 0 cancels a pending fault.
 */
void board_mem_fail_writes_after(unsigned n);
/* While set, every sello_board_nv_write fails (storage gone bad). */
void board_mem_fail_all_writes(bool fail);
/* While set, every sello_board_nv_read fails with SELLO_ERR_STORAGE. */
void board_mem_fail_reads(bool fail);

/* nv_write calls made since the last reset, failed ones included. */
unsigned long board_mem_write_count(void);
/* nv_write calls that changed a record since the last reset. */
unsigned long board_mem_write_ok_count(void);

/* Direct access for tests: the current contents of a record (false when
 * absent), and a way to replace them behind the module's back. */
bool board_mem_record_get(uint32_t record, const uint8_t **data, size_t *len);
/* Pointer to the record's contents for in-place tampering, or NULL. */
uint8_t *board_mem_record_mut(uint32_t record, size_t *len);
bool board_mem_record_put(uint32_t record, const uint8_t *data, size_t len);

/* A copy of every record, for rollback tests (restore puts the device's
 * storage back exactly as it was: a host that restores an old backup). */
typedef struct {
    struct {
        bool used;
        uint32_t id;
        size_t len;
        uint8_t data[BOARD_MEM_RECORD_MAX];
    } rec[BOARD_MEM_RECORDS];
} board_mem_records;

void board_mem_snapshot(board_mem_records *out);
void board_mem_restore(const board_mem_records *in);

/* ---- monotonic counter ---------------------------------------------------- */
/* The board counter lives apart from the records: board_mem_snapshot and
 * board_mem_restore leave it alone; reset and reset_records zero it. */
void board_mem_set_counter(uint64_t value);
uint64_t board_mem_get_counter(void);
/* While set, counter_read and counter_advance fail with SELLO_ERR_STORAGE. */
void board_mem_fail_counter(bool fail);

/* ---- frames -------------------------------------------------------------- */
/* Queues one request frame for sello_board_frame_recv; false when full.
 * With the queue empty, frame_recv reports the link gone (SELLO_ERR_FRAME). */
bool board_mem_frame_push(const uint8_t *frame, size_t len);
/* The i-th response sent since the last reset, or false. */
bool board_mem_frame_sent(unsigned i, const uint8_t **frame, size_t *len);
unsigned board_mem_frames_sent(void);

#endif
