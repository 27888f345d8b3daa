/*
 * Simulator monotonic counter: one small file outside the state directory
 * (by default <state>.counter beside it), standing in for a chip's
 * anti-rollback storage. Restoring an old copy of the state directory
 * leaves it alone, which is what lets the module recognise such a copy.
 *
 * The file is one line of text, so that an operator can read it:
 *
 *     sello-counter v1 <value in decimal> <CRC-32 in 8 lowercase hex>\n
 *
 * where the CRC-32 (IEEE, as zlib's crc32) covers everything before the
 * space in front of it. A file is accepted only if it is exactly the
 * canonical encoding of the value it names, so a damaged or hand-edited
 * file is an error (SELLO_ERR_STORAGE) rather than some other value; only
 * a missing file reads as 0, a device that never advanced its counter.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sello/board.h>

#include "sim.h"

#define COUNTER_MAGIC "sello-counter v1 "
/* Magic, 20 digits of UINT64_MAX, space, 8 hex digits, newline. */
#define COUNTER_TEXT_MAX (sizeof COUNTER_MAGIC - 1 + 20 + 1 + 8 + 1)

static int counter_dir_fd = -1;
static char counter_name[NAME_MAX + 1];
static bool counter_cached;
static uint64_t counter_value;

static uint32_t crc32_ieee(const char *p, size_t n)
{
    uint32_t crc = 0xffffffffu;
    while (n--) {
        crc ^= (uint8_t)*p++;
        for (int bit = 0; bit < 8; bit++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* The canonical file contents for `value`; returns their length. */
static size_t counter_format(uint64_t value, char out[COUNTER_TEXT_MAX + 1])
{
    int body = snprintf(out, COUNTER_TEXT_MAX + 1, COUNTER_MAGIC "%" PRIu64,
                        value);
    int full = snprintf(out + body, COUNTER_TEXT_MAX + 1 - (size_t)body,
                        " %08" PRIx32 "\n", crc32_ieee(out, (size_t)body));
    return (size_t)body + (size_t)full;
}

/*
 * Strict parse: read the decimal digits after the magic, then demand that
 * the whole file equals the canonical encoding of that number. That one
 * comparison rejects a wrong CRC, leading zeros, signs, blanks, missing or
 * extra lines and truncation alike.
 */
static bool counter_parse(const char *text, size_t len, uint64_t *value)
{
    size_t magic_len = sizeof COUNTER_MAGIC - 1;
    if (len <= magic_len || memcmp(text, COUNTER_MAGIC, magic_len) != 0)
        return false;
    uint64_t v = 0;
    size_t i = magic_len;
    for (; i < len && text[i] >= '0' && text[i] <= '9'; i++) {
        unsigned digit = (unsigned)(text[i] - '0');
        if (v > (UINT64_MAX - digit) / 10)
            return false;
        v = v * 10 + digit;
    }
    if (i == magic_len)
        return false;
    char canonical[COUNTER_TEXT_MAX + 1];
    size_t canonical_len = counter_format(v, canonical);
    if (canonical_len != len || memcmp(canonical, text, len) != 0)
        return false;
    *value = v;
    return true;
}

static sello_status counter_load(void)
{
    if (counter_cached)
        return SELLO_OK;
    if (counter_dir_fd < 0)
        return SELLO_ERR_STORAGE;
    int fd = openat(counter_dir_fd, counter_name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT)
            return SELLO_ERR_STORAGE;
        counter_value = 0;
        counter_cached = true;
        return SELLO_OK;
    }
    /* One octet more than any valid file, to see an overlong one. */
    char text[COUNTER_TEXT_MAX + 1];
    size_t got = 0;
    bool read_ok = true;
    while (got < sizeof text) {
        ssize_t n = read(fd, text + got, sizeof text - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            read_ok = false;
            break;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    if (close(fd) != 0)
        read_ok = false;
    uint64_t v;
    if (!read_ok || got > COUNTER_TEXT_MAX || !counter_parse(text, got, &v))
        return SELLO_ERR_STORAGE;
    counter_value = v;
    counter_cached = true;
    return SELLO_OK;
}

sello_status sello_board_counter_read(uint64_t *value)
{
    if (!value)
        return SELLO_ERR_PARAM;
    sello_status st = counter_load();
    if (st != SELLO_OK)
        return st;
    *value = counter_value;
    return SELLO_OK;
}

sello_status sello_board_counter_advance(uint64_t value)
{
    sello_status st = counter_load();
    if (st != SELLO_OK)
        return st;
    if (value <= counter_value)
        return SELLO_ERR_PARAM;
    char text[COUNTER_TEXT_MAX + 1];
    size_t len = counter_format(value, text);
    if (sim_replace_file(counter_dir_fd, counter_name, (const uint8_t *)text,
                         len) != 0) {
        /* The file may now hold either value; read it again next time
         * rather than trust either. */
        counter_cached = false;
        return SELLO_ERR_STORAGE;
    }
    counter_value = value;
    return SELLO_OK;
}

/*
 * Whether directory `fd` is `state` or lies below it, found by walking up
 * with ".." to the root: a counter there would be copied and restored with
 * the records. Consumes fd. -1 when the walk fails.
 */
static int dir_within(int fd, const struct stat *state)
{
    for (;;) {
        struct stat here;
        if (fstat(fd, &here) != 0) {
            close(fd);
            return -1;
        }
        if (here.st_dev == state->st_dev && here.st_ino == state->st_ino) {
            close(fd);
            return 1;
        }
        int parent = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        close(fd);
        if (parent < 0)
            return -1;
        struct stat up;
        if (fstat(parent, &up) != 0) {
            close(parent);
            return -1;
        }
        if (up.st_dev == here.st_dev && up.st_ino == here.st_ino) {
            close(parent);
            return 0;
        }
        fd = parent;
    }
}

int sim_counter_open(const char *path, const char *state_dir)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t base_len = strlen(base);
    if (base_len == 0 || base_len >= sizeof counter_name ||
        strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
        fprintf(stderr, "sello-sim: counter %s: not a file name\n", path);
        return -1;
    }
    char dir[PATH_MAX];
    if (!slash) {
        strcpy(dir, ".");
    } else if (slash == path) {
        strcpy(dir, "/");
    } else {
        size_t dir_len = (size_t)(slash - path);
        if (dir_len >= sizeof dir) {
            fprintf(stderr, "sello-sim: counter %s: path too long\n", path);
            return -1;
        }
        memcpy(dir, path, dir_len);
        dir[dir_len] = 0;
    }

    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "sello-sim: counter %s: directory %s: %s\n", path,
                dir, strerror(errno));
        return -1;
    }
    struct stat state;
    if (stat(state_dir, &state) != 0) {
        fprintf(stderr, "sello-sim: state directory %s: %s\n", state_dir,
                strerror(errno));
        close(fd);
        return -1;
    }
    int probe = dup(fd);
    int within = probe < 0 ? -1 : dir_within(probe, &state);
    if (within != 0) {
        if (within > 0)
            fprintf(stderr, "sello-sim: counter %s lies inside the state "
                            "directory %s: restoring a copy of that "
                            "directory would restore it too\n",
                    path, state_dir);
        else
            fprintf(stderr, "sello-sim: counter %s: cannot check its "
                            "directory: %s\n",
                    path, strerror(errno));
        close(fd);
        return -1;
    }
    if (counter_dir_fd >= 0)
        close(counter_dir_fd);
    counter_dir_fd = fd;
    memcpy(counter_name, base, base_len + 1);
    counter_cached = false;
    return 0;
}
