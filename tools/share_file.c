/* Share files; format and contracts in share_file.h. */
#include "share_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "box.h"
#include "util.h"

enum {
    OFF_VERSION = 8,
    OFF_X = 9,
    OFF_N = 10,
    OFF_M = 11,
    OFF_UNIT = 12,
    OFF_OPS = 44,
    OFF_MEM = 52,
    OFF_SALT = 60,
    OFF_PUB = 76,
    OFF_BOX = 108,
};

void share_file_encode(const share_file *s, uint8_t *out)
{
    memcpy(out, SHARE_FILE_MAGIC, SHARE_FILE_MAGIC_LEN);
    out[OFF_VERSION] = SHARE_FILE_VERSION;
    out[OFF_X] = s->x;
    out[OFF_N] = s->n;
    out[OFF_M] = s->m;
    memcpy(out + OFF_UNIT, s->unit_id, 32);
    sello_put_be64(out + OFF_OPS, s->kdf_ops);
    sello_put_be64(out + OFF_MEM, s->kdf_mem);
    memcpy(out + OFF_SALT, s->salt, CUSTODIAN_SALT_LEN);
    memcpy(out + OFF_PUB, s->pub, 32);
    memcpy(out + OFF_BOX, s->box, SELLO_SHARE_BOX_LEN);
}

const char *share_file_decode(const uint8_t *data, size_t len, share_file *s)
{
    if (len < SHARE_FILE_MAGIC_LEN + 1 ||
        memcmp(data, SHARE_FILE_MAGIC, SHARE_FILE_MAGIC_LEN) != 0)
        return "not a Sello share file";
    if (data[OFF_VERSION] != SHARE_FILE_VERSION)
        return "share file format version not supported by this tool";
    if (len != SHARE_FILE_LEN)
        return "share file has the wrong size (truncated or damaged?)";
    s->x = data[OFF_X];
    s->n = data[OFF_N];
    s->m = data[OFF_M];
    if (s->n < 2 || s->n > 16 || s->m < 2 || s->m > s->n || s->x < 1 ||
        s->x > s->n)
        return "share file header has an impossible x, M or N";
    memcpy(s->unit_id, data + OFF_UNIT, 32);
    s->kdf_ops = sello_get_be64(data + OFF_OPS);
    s->kdf_mem = sello_get_be64(data + OFF_MEM);
    if (!custodian_kdf_acceptable(s->kdf_ops, s->kdf_mem))
        return "share file asks for a key derivation cost outside what "
               "this tool uses";
    memcpy(s->salt, data + OFF_SALT, CUSTODIAN_SALT_LEN);
    memcpy(s->pub, data + OFF_PUB, 32);
    memcpy(s->box, data + OFF_BOX, SELLO_SHARE_BOX_LEN);
    return NULL;
}

bool share_file_load(const char *path, share_file *s)
{
    uint8_t *data;
    size_t len;
    if (!util_read_file(path, &data, &len))
        return false;
    const char *why = share_file_decode(data, len, s);
    free(data);
    if (why)
        util_err("%s: %s", path, why);
    return why == NULL;
}

int share_file_create(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            util_err("%s already exists; share files are never overwritten "
                     "(it may be the only copy of another unit's share)",
                     path);
        else
            util_err("%s: %s", path, strerror(errno));
        return -1;
    }
    /* The umask can only remove bits; this makes "0600" hold whatever the
     * umask was, rather than trusting it. */
    if (fchmod(fd, 0600) != 0) {
        util_err("%s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    return fd;
}

/* fsyncs the directory holding `path`, so that the new name is durable
 * too, not only the contents. */
static bool sync_parent(const char *path)
{
    char *copy = strdup(path);
    if (!copy) {
        util_err("out of memory");
        return false;
    }
    int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    bool ok = dfd >= 0 && fsync(dfd) == 0;
    if (!ok)
        util_err("%s: cannot sync its directory: %s", path, strerror(errno));
    if (dfd >= 0)
        close(dfd);
    free(copy);
    return ok;
}

bool share_file_write(int fd, const char *path, const share_file *s)
{
    uint8_t out[SHARE_FILE_LEN];
    share_file_encode(s, out);
    const uint8_t *p = out;
    size_t n = sizeof out;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            util_err("%s: %s", path, strerror(errno));
            close(fd);
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    /* A share is the only copy there is: make it durable before the
     * operator is told it exists. */
    if (fsync(fd) != 0) {
        util_err("%s: %s", path, strerror(errno));
        close(fd);
        return false;
    }
    if (close(fd) != 0) {
        util_err("%s: %s", path, strerror(errno));
        return false;
    }
    return sync_parent(path);
}

const char *share_file_unbox(const share_file *s, const uint8_t priv[32],
                             uint8_t *plain)
{
    const uint8_t (*keys)[32] = (const uint8_t (*)[32])priv;
    if (sello_box_open(keys, 1, NULL, 0, SELLO_BOX_LABEL_SHARE, NULL, 0,
                       s->box, SELLO_SHARE_BOX_LEN, plain) != SELLO_OK)
        return "the share box does not open with this custodian's key "
               "(damaged file?)";
    const char *why = NULL;
    if (plain[SELLO_SHARE_VERSION] != SELLO_SHARE_FORMAT)
        why = "the share inside has a format this tool does not know";
    else if (memcmp(plain + SELLO_SHARE_UNIT_ID, s->unit_id, 32) != 0)
        why = "the share inside belongs to another unit than the file says";
    else if (plain[SELLO_SHARE_X] != s->x || plain[SELLO_SHARE_M] != s->m ||
             plain[SELLO_SHARE_N] != s->n)
        why = "the share inside disagrees with the file header on x, M or N";
    if (why)
        sodium_memzero(plain, SELLO_SHARE_LEN);
    return why;
}

bool share_file_open(const share_file *s, const char *path,
                     const custodian_pass *pass, uint8_t *plain)
{
    custodian_key k;
    if (!custodian_derive(pass, s->salt, s->kdf_ops, s->kdf_mem, &k))
        return false;
    bool ok = false;
    if (sodium_memcmp(k.pub, s->pub, 32) != 0) {
        util_err("%s: wrong passphrase for share %u", path, s->x);
    } else {
        const char *why = share_file_unbox(s, k.priv, plain);
        if (why)
            util_err("%s: %s", path, why);
        ok = why == NULL;
    }
    custodian_key_wipe(&k);
    return ok;
}
