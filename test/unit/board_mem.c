/* The in-memory test board; contracts in board_mem.h and <sello/board.h>. */
#include "board_mem.h"

#include <string.h>

#include <bearssl.h>
#include <sello/abi.h>

static const uint8_t default_secret[32] = {
    0x53, 0x65, 0x6c, 0x6c, 0x6f, 0x20, 0x74, 0x65, 0x73, 0x74, 0x20,
    0x64, 0x65, 0x76, 0x69, 0x63, 0x65, 0x20, 0x73, 0x65, 0x63, 0x72,
    0x65, 0x74, 0x20, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36,
};

static board_mem_records store;

/* Apart from `store`, like a real board's: a snapshot/restore of the
 * records does not touch it. */
static struct {
    uint64_t value;
    bool fail;
} counter;


static struct {
    uint64_t ticks;
    uint32_t hz;
    uint32_t drift_ppm;
    uint64_t seed;
    uint64_t block_counter;
    uint8_t block[32];
    size_t block_used; /* octets of `block` already handed out */
    bool fail_entropy;
    uint8_t secret[32];
    bool fail_secret;
    bool production; /* sello_board_is_simulation() answers false */
    unsigned fail_write_in; /* 0: none; else fail when it counts down to 1 */
    bool fail_all_writes;
    bool fail_reads;
    unsigned long writes;
    unsigned long writes_ok;
} b;

static struct {
    uint8_t in[BOARD_MEM_FRAMES][SELLO_FRAME_MAX + 64];
    size_t in_len[BOARD_MEM_FRAMES];
    unsigned in_head, in_count;
    uint8_t out[BOARD_MEM_FRAMES][SELLO_FRAME_MAX];
    size_t out_len[BOARD_MEM_FRAMES];
    unsigned out_count;
} frames;

void board_mem_reset(void)
{
    memset(&store, 0, sizeof store);
    memset(&counter, 0, sizeof counter);
    memset(&b, 0, sizeof b);
    b.hz = BOARD_MEM_TICK_HZ_DEFAULT;
    b.drift_ppm = 50;
    b.block_used = sizeof b.block;
    memcpy(b.secret, default_secret, sizeof b.secret);
    frames.in_head = frames.in_count = frames.out_count = 0;
}

/* ---- time ---------------------------------------------------------------- */

void board_mem_set_ticks(uint64_t ticks) { b.ticks = ticks; }
uint64_t board_mem_get_ticks(void) { return b.ticks; }
void board_mem_advance_ticks(uint64_t ticks) { b.ticks += ticks; }
void board_mem_set_tick_hz(uint32_t hz) { b.hz = hz; }
void board_mem_set_drift_ppm(uint32_t ppm) { b.drift_ppm = ppm; }

void board_mem_advance_ms(uint64_t ms)
{
    b.ticks += ms / 1000 * b.hz + ms % 1000 * b.hz / 1000;
}

uint64_t sello_board_ticks(void) { return b.ticks; }
uint32_t sello_board_tick_hz(void) { return b.hz; }
uint32_t sello_board_tick_drift_ppm(void) { return b.drift_ppm; }

/* ---- entropy and secret -------------------------------------------------- */

void board_mem_seed_entropy(uint64_t seed)
{
    b.seed = seed;
    b.block_counter = 0;
    b.block_used = sizeof b.block;
}

void board_mem_fail_entropy(bool fail) { b.fail_entropy = fail; }

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* Block n of the stream is SHA-256(seed || n), both as 8 octets BE. */
sello_status sello_board_entropy(uint8_t *buf, size_t len)
{
    if (b.fail_entropy)
        return SELLO_ERR_ENTROPY;
    while (len) {
        if (b.block_used == sizeof b.block) {
            uint8_t in[16];
            br_sha256_context h;
            put_be64(in, b.seed);
            put_be64(in + 8, b.block_counter++);
            br_sha256_init(&h);
            br_sha256_update(&h, in, sizeof in);
            br_sha256_out(&h, b.block);
            b.block_used = 0;
        }
        size_t n = sizeof b.block - b.block_used;
        if (n > len)
            n = len;
        memcpy(buf, b.block + b.block_used, n);
        b.block_used += n;
        buf += n;
        len -= n;
    }
    return SELLO_OK;
}

void board_mem_set_device_secret(const uint8_t secret[32])
{
    memcpy(b.secret, secret, sizeof b.secret);
}

void board_mem_get_device_secret(uint8_t out[32])
{
    memcpy(out, b.secret, sizeof b.secret);
}

void board_mem_fail_device_secret(bool fail) { b.fail_secret = fail; }

sello_status sello_board_device_secret(uint8_t out[32])
{
    if (b.fail_secret)
        return SELLO_ERR_STORAGE;
    memcpy(out, b.secret, sizeof b.secret);
    return SELLO_OK;
}

void board_mem_set_simulation(bool simulation) { b.production = !simulation; }
bool sello_board_is_simulation(void) { return !b.production; }

/* ---- monotonic counter --------------------------------------------------- */

void board_mem_set_counter(uint64_t value) { counter.value = value; }
uint64_t board_mem_get_counter(void) { return counter.value; }
void board_mem_fail_counter(bool fail) { counter.fail = fail; }

sello_status sello_board_counter_read(uint64_t *value)
{
    if (counter.fail)
        return SELLO_ERR_STORAGE;
    *value = counter.value;
    return SELLO_OK;
}

sello_status sello_board_counter_advance(uint64_t value)
{
    if (counter.fail)
        return SELLO_ERR_STORAGE;
    if (value <= counter.value)
        return SELLO_ERR_PARAM;
    counter.value = value;
    return SELLO_OK;
}

/* ---- key token: none (board/common/no_token.c) ---------------------------- */

/* ---- records ------------------------------------------------------------- */

void board_mem_reset_records(void)
{
    memset(&store, 0, sizeof store);
    memset(&counter, 0, sizeof counter);
}

void board_mem_fail_writes_after(unsigned n) { b.fail_write_in = n; }
void board_mem_fail_all_writes(bool fail) { b.fail_all_writes = fail; }
void board_mem_fail_reads(bool fail) { b.fail_reads = fail; }
unsigned long board_mem_write_count(void) { return b.writes; }
unsigned long board_mem_write_ok_count(void) { return b.writes_ok; }

static int find(uint32_t id)
{
    for (unsigned i = 0; i < BOARD_MEM_RECORDS; i++)
        if (store.rec[i].used && store.rec[i].id == id)
            return (int)i;
    return -1;
}

static int find_or_add(uint32_t id)
{
    int i = find(id);
    if (i >= 0)
        return i;
    for (unsigned j = 0; j < BOARD_MEM_RECORDS; j++)
        if (!store.rec[j].used)
            return (int)j;
    return -1;
}

bool board_mem_record_get(uint32_t record, const uint8_t **data, size_t *len)
{
    int i = find(record);
    if (i < 0)
        return false;
    *data = store.rec[i].data;
    *len = store.rec[i].len;
    return true;
}

uint8_t *board_mem_record_mut(uint32_t record, size_t *len)
{
    int i = find(record);
    if (i < 0)
        return NULL;
    *len = store.rec[i].len;
    return store.rec[i].data;
}

bool board_mem_record_put(uint32_t record, const uint8_t *data, size_t len)
{
    int i = find_or_add(record);
    if (i < 0 || len > BOARD_MEM_RECORD_MAX)
        return false;
    store.rec[i].used = true;
    store.rec[i].id = record;
    store.rec[i].len = len;
    memmove(store.rec[i].data, data, len);
    return true;
}

void board_mem_snapshot(board_mem_records *out) { memcpy(out, &store, sizeof store); }
void board_mem_restore(const board_mem_records *in) { memcpy(&store, in, sizeof store); }

sello_status sello_board_nv_read(uint32_t record, uint8_t *buf, size_t cap,
                                 size_t *len)
{
    if (b.fail_reads)
        return SELLO_ERR_STORAGE;
    int i = find(record);
    if (i < 0)
        return SELLO_ERR_NOT_FOUND;
    if (store.rec[i].len > cap)
        return SELLO_ERR_SPACE;
    memcpy(buf, store.rec[i].data, store.rec[i].len);
    *len = store.rec[i].len;
    return SELLO_OK;
}

sello_status sello_board_nv_write(uint32_t record, const uint8_t *data,
                                  size_t len)
{
    b.writes++;
    if (b.fail_write_in) {
        if (--b.fail_write_in == 0)
            return SELLO_ERR_STORAGE; /* the old record stays intact */
    }
    if (b.fail_all_writes)
        return SELLO_ERR_STORAGE;
    if (len > BOARD_MEM_RECORD_MAX)
        return SELLO_ERR_SPACE;
    if (!board_mem_record_put(record, data, len))
        return SELLO_ERR_STORAGE;
    b.writes_ok++;
    return SELLO_OK;
}

sello_status sello_board_nv_erase(uint32_t record)
{
    if (b.fail_all_writes)
        return SELLO_ERR_STORAGE;
    int i = find(record);
    if (i >= 0)
        memset(&store.rec[i], 0, sizeof store.rec[i]);
    return SELLO_OK;
}

/* ---- frames -------------------------------------------------------------- */

bool board_mem_frame_push(const uint8_t *frame, size_t len)
{
    if (frames.in_count == BOARD_MEM_FRAMES || len > sizeof frames.in[0])
        return false;
    unsigned slot = (frames.in_head + frames.in_count) % BOARD_MEM_FRAMES;
    memcpy(frames.in[slot], frame, len);
    frames.in_len[slot] = len;
    frames.in_count++;
    return true;
}

sello_status sello_board_frame_recv(uint8_t *buf, size_t cap, size_t *len)
{
    if (frames.in_count == 0)
        return SELLO_ERR_FRAME; /* the link is gone */
    unsigned slot = frames.in_head;
    frames.in_head = (frames.in_head + 1) % BOARD_MEM_FRAMES;
    frames.in_count--;
    if (frames.in_len[slot] > cap)
        return SELLO_ERR_FRAME;
    memcpy(buf, frames.in[slot], frames.in_len[slot]);
    *len = frames.in_len[slot];
    return SELLO_OK;
}

void sello_board_frame_send(const uint8_t *frame, size_t len)
{
    if (frames.out_count == BOARD_MEM_FRAMES || len > sizeof frames.out[0])
        return;
    memcpy(frames.out[frames.out_count], frame, len);
    frames.out_len[frames.out_count] = len;
    frames.out_count++;
}

bool board_mem_frame_sent(unsigned i, const uint8_t **frame, size_t *len)
{
    if (i >= frames.out_count)
        return false;
    *frame = frames.out[i];
    *len = frames.out_len[i];
    return true;
}

unsigned board_mem_frames_sent(void) { return frames.out_count; }
