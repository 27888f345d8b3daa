/*
 * Simulator storage: one file per record in the state directory, replaced
 * atomically (sim_replace_file), so a crash at any point leaves the old or
 * the new record, never a mix.
 *
 * The device secret lives outside the state directory, as on a real module
 * where it sits in a fuse or secure element, so that a copy of the records
 * alone cannot unwrap the key.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sello/board.h>

#include "sim.h"

static int state_fd = -1;
static uint8_t device_secret[32];

static void record_name(uint32_t record, char *out, size_t cap)
{
    snprintf(out, cap, "record-%u", record);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int load_or_create_secret(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, device_secret, sizeof device_secret);
        close(fd);
        return n == (ssize_t)sizeof device_secret ? 0 : -1;
    }
    if (errno != ENOENT)
        return -1;
    if (getrandom(device_secret, sizeof device_secret, 0) !=
        (ssize_t)sizeof device_secret)
        return -1;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    int rc = write_all(fd, device_secret, sizeof device_secret) || fsync(fd);
    close(fd);
    return rc ? -1 : 0;
}

int sim_nv_open(const char *state_dir, const char *secret_path)
{
    if (mkdir(state_dir, 0700) != 0 && errno != EEXIST)
        return -1;
    state_fd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (state_fd < 0)
        return -1;
    return load_or_create_secret(secret_path);
}

sello_status sello_board_nv_read(uint32_t record, uint8_t *buf, size_t cap,
                                 size_t *len)
{
    char name[32];
    record_name(record, name, sizeof name);
    int fd = openat(state_fd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? SELLO_ERR_NOT_FOUND : SELLO_ERR_STORAGE;
    struct stat st;
    sello_status rc = SELLO_ERR_STORAGE;
    if (fstat(fd, &st) != 0)
        goto out;
    if ((size_t)st.st_size > cap) {
        rc = SELLO_ERR_SPACE;
        goto out;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto out;
        got += (size_t)n;
    }
    *len = got;
    rc = SELLO_OK;
out:
    close(fd);
    return rc;
}

/*
 * The temporary file is named after the target so that two files replaced
 * in the same directory (records, or the counter beside the state
 * directory) never share one. fdatasync before the rename so that the
 * rename can only ever expose complete contents; fsync of the directory
 * afterwards so that the rename itself survives a power loss.
 */
int sim_replace_file(int dir_fd, const char *name, const uint8_t *data,
                     size_t len)
{
    char tmp[NAME_MAX + 1];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp", name);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
#ifdef SELLO_SIM_TEST_HOOKS
    sim_test_persist_point(false);
#endif
    int fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                    0600);
    if (fd < 0)
        return -1;
    int bad = write_all(fd, data, len) || fdatasync(fd);
    bad = close(fd) || bad;
    if (bad || renameat(dir_fd, tmp, dir_fd, name) != 0 ||
        fsync(dir_fd) != 0) {
        int saved = errno;
        /* Best effort: after a successful rename there is nothing left to
         * remove, and a leftover temporary file is harmless anyway. */
        (void)unlinkat(dir_fd, tmp, 0);
        errno = saved;
        return -1;
    }
#ifdef SELLO_SIM_TEST_HOOKS
    sim_test_persist_point(true);
#endif
    return 0;
}

sello_status sello_board_nv_write(uint32_t record, const uint8_t *data,
                                  size_t len)
{
    char name[32];
    record_name(record, name, sizeof name);
    return sim_replace_file(state_fd, name, data, len) == 0
               ? SELLO_OK
               : SELLO_ERR_STORAGE;
}

sello_status sello_board_nv_erase(uint32_t record)
{
    char name[32];
    record_name(record, name, sizeof name);
#ifdef SELLO_SIM_TEST_HOOKS
    sim_test_persist_point(false);
#endif
    if (unlinkat(state_fd, name, 0) != 0 && errno != ENOENT)
        return SELLO_ERR_STORAGE;
    if (fsync(state_fd) != 0)
        return SELLO_ERR_STORAGE;
#ifdef SELLO_SIM_TEST_HOOKS
    sim_test_persist_point(true);
#endif
    return SELLO_OK;
}

sello_status sello_board_device_secret(uint8_t out[32])
{
    memcpy(out, device_secret, sizeof device_secret);
    return SELLO_OK;
}

sello_status sello_board_entropy(uint8_t *buf, size_t len)
{
    while (len) {
        ssize_t n = getrandom(buf, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return SELLO_ERR_ENTROPY;
        }
        buf += n;
        len -= (size_t)n;
    }
    return SELLO_OK;
}

bool sello_board_is_simulation(void)
{
    return true;
}
