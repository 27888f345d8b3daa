/* Hash names and file hashing; contracts in hashx.h. */
#include "hashx.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sello/abi.h>

#include "util.h"

static const struct {
    int id;
    const char *name;
    const char *alias;
} names[] = {
    {SELLO_HASH_SHA1, "sha1", "sha-1"},
    {SELLO_HASH_SHA224, "sha224", "sha-224"},
    {SELLO_HASH_SHA256, "sha256", "sha-256"},
    {SELLO_HASH_SHA384, "sha384", "sha-384"},
    {SELLO_HASH_SHA512, "sha512", "sha-512"},
};

const sello_hash_info *hashx_by_name(const char *name)
{
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(name, names[i].name) == 0 ||
            strcasecmp(name, names[i].alias) == 0)
            return sello_hash_by_id(names[i].id);
    return NULL;
}

const char *hashx_name(int id)
{
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].id == id)
            return names[i].name;
    return "?";
}

bool hashx_file(const sello_hash_info *h, const char *path, uint8_t *out)
{
    bool use_stdin = strcmp(path, "-") == 0;
    int fd = use_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        util_err("%s: %s", path, strerror(errno));
        return false;
    }
    br_hash_compat_context ctx;
    h->vtable->init(&ctx.vtable);
    uint8_t buf[65536];
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            util_err("%s: %s", path, strerror(errno));
            if (!use_stdin)
                close(fd);
            return false;
        }
        if (r == 0)
            break;
        h->vtable->update(&ctx.vtable, buf, (size_t)r);
    }
    if (!use_stdin)
        close(fd);
    h->vtable->out(&ctx.vtable, out);
    return true;
}
