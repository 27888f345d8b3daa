/*
 * Storage, device secret and entropy of the emulated board, all through
 * semihosting (semihost.c), i.e. files of the host that runs QEMU:
 *
 *   DIR/record-N   the module's records, one file each (the same layout as
 *                  the simulator's state directory)
 *   DIR.counter    the monotonic counter, beside DIR so that restoring DIR
 *                  does not restore it: 8 octets little-endian, then their
 *                  CRC-32 little-endian
 *   DIR.secret     the 32-octet device secret, created on first start
 *
 * A record is replaced by writing NAME.tmp and renaming it over NAME:
 * rename() is atomic on the host, so a QEMU killed at any point leaves the
 * old or the new record. Semihosting has no fsync, so a write is durable
 * against the emulator dying, not against the host losing power; on a real
 * security processor this file is the flash driver, with its own atomic
 * record scheme.
 *
 * SIMULATION ONLY: the device secret is a host file, and the entropy is the
 * host's /dev/urandom handed in by the emulator. Whoever controls the host
 * controls both. sello_board_is_simulation() says so, and the module then
 * initialises test units only.
 */
#include <sello/board.h>
#include <sello/serial_link.h>

#include "mps2.h"

#define PATH_MAX_LEN 200u

static char state_dir[PATH_MAX_LEN];
static uint8_t device_secret[32];
static int entropy_handle = -1;
static bool counter_cached;
static uint64_t counter_value;

/* out = a + b + c, or false if it does not fit. */
static bool join(char *out, size_t cap, const char *a, const char *b,
                 const char *c)
{
    size_t n = 0;
    const char *parts[3] = {a, b, c};
    for (unsigned i = 0; i < 3; i++)
        for (const char *p = parts[i]; *p != '\0'; p++) {
            if (n + 1 >= cap)
                return false;
            out[n++] = *p;
        }
    out[n] = '\0';
    return true;
}

static bool record_path(uint32_t record, char *out, size_t cap)
{
    char num[11];
    size_t i = sizeof num - 1;
    num[i] = '\0';
    do {
        num[--i] = (char)('0' + record % 10u);
        record /= 10u;
    } while (record != 0);
    return join(out, cap, state_dir, "/record-", num + i);
}

/* Reads the whole file into buf[0..cap). -1: absent; -2: error or too
 * big (the size in *len then); 0: read, *len octets. */
static int read_file(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
    int h = mps2_sh_open(path, MPS2_SH_MODE_RB);
    if (h < 0)
        return -1;
    long size = mps2_sh_flen(h);
    int rc = -2;
    if (size >= 0) {
        *len = (size_t)size;
        if ((size_t)size <= cap && mps2_sh_read(h, buf, (size_t)size) == size)
            rc = 0;
    }
    (void)mps2_sh_close(h);
    return rc;
}

/* Replaces the file at path with data, whole (NAME.tmp, then rename). */
static bool replace_file(const char *path, const uint8_t *data, size_t len)
{
    char tmp[PATH_MAX_LEN + 8];
    if (!join(tmp, sizeof tmp, path, ".tmp", ""))
        return false;
    int h = mps2_sh_open(tmp, MPS2_SH_MODE_WB);
    if (h < 0)
        return false;
    bool ok = mps2_sh_write(h, data, len);
    ok = mps2_sh_close(h) && ok;
    if (ok && mps2_sh_rename(tmp, path))
        return true;
    (void)mps2_sh_remove(tmp);
    return false;
}

bool mps2_nv_open(const char *dir)
{
    size_t n = 0;
    while (dir[n] != '\0')
        n++;
    while (n > 1 && dir[n - 1] == '/')
        n--;
    if (n == 0 || n + 32 > sizeof state_dir) {
        mps2_console_str("sello-mps2: state directory name empty or too long\n");
        return false;
    }
    for (size_t i = 0; i < n; i++)
        state_dir[i] = dir[i];
    state_dir[n] = '\0';

    entropy_handle = mps2_sh_open("/dev/urandom", MPS2_SH_MODE_RB);
    if (entropy_handle < 0) {
        mps2_console_str("sello-mps2: cannot open the host's /dev/urandom\n");
        return false;
    }

    char path[PATH_MAX_LEN + 8];
    size_t len = 0;
    if (!join(path, sizeof path, state_dir, ".secret", ""))
        return false;
    int rc = read_file(path, device_secret, sizeof device_secret, &len);
    if (rc == 0 && len == sizeof device_secret)
        return true;
    if (rc != -1) {
        mps2_console_str("sello-mps2: the device secret file is damaged\n");
        return false;
    }
    if (sello_board_entropy(device_secret, sizeof device_secret) != SELLO_OK ||
        !replace_file(path, device_secret, sizeof device_secret)) {
        mps2_console_str("sello-mps2: cannot create the device secret\n");
        return false;
    }
    return true;
}

sello_status sello_board_nv_read(uint32_t record, uint8_t *buf, size_t cap,
                                 size_t *len)
{
    char path[PATH_MAX_LEN + 24];
    if (!record_path(record, path, sizeof path))
        return SELLO_ERR_STORAGE;
    switch (read_file(path, buf, cap, len)) {
    case 0:
        return SELLO_OK;
    case -1:
        return SELLO_ERR_NOT_FOUND;
    default:
        return *len > cap ? SELLO_ERR_SPACE : SELLO_ERR_STORAGE;
    }
}

sello_status sello_board_nv_write(uint32_t record, const uint8_t *data,
                                  size_t len)
{
    char path[PATH_MAX_LEN + 24];
    if (!record_path(record, path, sizeof path) ||
        !replace_file(path, data, len))
        return SELLO_ERR_STORAGE;
    return SELLO_OK;
}

sello_status sello_board_nv_erase(uint32_t record)
{
    char path[PATH_MAX_LEN + 24];
    if (!record_path(record, path, sizeof path))
        return SELLO_ERR_STORAGE;
    int h = mps2_sh_open(path, MPS2_SH_MODE_RB);
    if (h < 0)
        return SELLO_OK; /* absent already */
    (void)mps2_sh_close(h);
    return mps2_sh_remove(path) ? SELLO_OK : SELLO_ERR_STORAGE;
}

/* ---- monotonic counter ---------------------------------------------------- */

#define COUNTER_FILE_LEN 12u

static void counter_encode(uint64_t v, uint8_t out[COUNTER_FILE_LEN])
{
    for (unsigned i = 0; i < 8; i++)
        out[i] = (uint8_t)(v >> (8u * i));
    uint32_t crc = sello_crc32(0, out, 8);
    for (unsigned i = 0; i < 4; i++)
        out[8 + i] = (uint8_t)(crc >> (8u * i));
}

sello_status sello_board_counter_read(uint64_t *value)
{
    if (counter_cached) {
        *value = counter_value;
        return SELLO_OK;
    }
    char path[PATH_MAX_LEN + 8];
    uint8_t file[COUNTER_FILE_LEN], canonical[COUNTER_FILE_LEN];
    size_t len = 0;
    if (!join(path, sizeof path, state_dir, ".counter", ""))
        return SELLO_ERR_STORAGE;
    int rc = read_file(path, file, sizeof file, &len);
    if (rc == -1) {
        counter_value = 0; /* never advanced */
    } else {
        if (rc != 0 || len != COUNTER_FILE_LEN)
            return SELLO_ERR_STORAGE;
        uint64_t v = 0;
        for (unsigned i = 0; i < 8; i++)
            v |= (uint64_t)file[i] << (8u * i);
        counter_encode(v, canonical);
        for (unsigned i = 0; i < COUNTER_FILE_LEN; i++)
            if (file[i] != canonical[i])
                return SELLO_ERR_STORAGE; /* damaged: not some other value */
        counter_value = v;
    }
    counter_cached = true;
    *value = counter_value;
    return SELLO_OK;
}

sello_status sello_board_counter_advance(uint64_t value)
{
    uint64_t now;
    SELLO_TRY(sello_board_counter_read(&now));
    if (value <= now)
        return SELLO_ERR_PARAM;
    char path[PATH_MAX_LEN + 8];
    uint8_t file[COUNTER_FILE_LEN];
    if (!join(path, sizeof path, state_dir, ".counter", ""))
        return SELLO_ERR_STORAGE;
    counter_encode(value, file);
    /* Whatever happened, read the file again next time. */
    counter_cached = false;
    return replace_file(path, file, sizeof file) ? SELLO_OK
                                                 : SELLO_ERR_STORAGE;
}

/* ---- secrets -------------------------------------------------------------- */

sello_status sello_board_device_secret(uint8_t out[32])
{
    for (unsigned i = 0; i < sizeof device_secret; i++)
        out[i] = device_secret[i];
    return SELLO_OK;
}

sello_status sello_board_entropy(uint8_t *buf, size_t len)
{
    if (entropy_handle < 0 || mps2_sh_read(entropy_handle, buf, len) != (long)len)
        return SELLO_ERR_ENTROPY;
    return SELLO_OK;
}

bool sello_board_is_simulation(void)
{
    return true;
}
