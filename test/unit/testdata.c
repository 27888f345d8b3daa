/* Test data files; contracts in testdata.h. */
#include "testdata.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *td_dir(void)
{
    static char dir[PATH_MAX + 64];
    static bool done;
    if (done)
        return dir[0] ? dir : NULL;
    done = true;
    const char *env = getenv("SELLO_TEST_DATA");
    if (env && is_dir(env)) {
        snprintf(dir, sizeof dir, "%s", env);
        return dir;
    }
    if (is_dir("test/data")) {
        snprintf(dir, sizeof dir, "test/data");
        return dir;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = 0;
    for (;;) {
        char *slash = strrchr(exe, '/');
        if (!slash || slash == exe)
            break;
        *slash = 0;
        char probe[PATH_MAX + 32];
        snprintf(probe, sizeof probe, "%s/test/data", exe);
        if (is_dir(probe)) {
            snprintf(dir, sizeof dir, "%s/test/data", exe);
            return dir;
        }
    }
    return NULL;
}

uint8_t *td_load(const char *rel, size_t *len)
{
    const char *d = td_dir();
    if (!d)
        return NULL;
    char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/%s", d, rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = NULL;
    size_t cap = 0, got = 0;
    for (;;) {
        if (cap - got < 4096) {
            cap = cap ? cap * 2 : 8192;
            uint8_t *nb = realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t r = fread(buf + got, 1, cap - got, f);
        got += r;
        if (r == 0)
            break;
    }
    bool err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return NULL;
    }
    buf[got] = 0;
    *len = got;
    return buf;
}

bool td_save(const char *dir, const char *name, const uint8_t *data,
             size_t len)
{
    char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    bool ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t td_hex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (; *s && *s != '#'; s++) {
        if (*s == ' ' || *s == '\t' || *s == ':' || *s == '.' || *s == '\n' ||
            *s == '\r')
            continue;
        int v = hexval(*s);
        if (v < 0)
            return (size_t)-1;
        if (hi < 0) {
            hi = v;
            continue;
        }
        if (n == cap)
            return (size_t)-1;
        out[n++] = (uint8_t)(hi << 4 | v);
        hi = -1;
    }
    return hi < 0 ? n : (size_t)-1;
}

char *td_trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' ||
                 s[n - 1] == '\r'))
        s[--n] = 0;
    return s;
}

td_line *td_read_lines(const char *rel, size_t *n)
{
    size_t len;
    char *text = (char *)td_load(rel, &len);
    *n = 0;
    if (!text)
        return NULL;
    size_t cap = 16;
    td_line *lines = malloc(cap * sizeof *lines);
    unsigned lineno = 0;
    char *p = text;
    while (p && *p) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = 0;
        lineno++;
        char *t = td_trim(p);
        if (*t && *t != '#') {
            if (*n == cap) {
                cap *= 2;
                lines = realloc(lines, cap * sizeof *lines);
            }
            lines[*n].lineno = lineno;
            lines[*n].text = strdup(t);
            (*n)++;
        }
        p = nl ? nl + 1 : NULL;
    }
    free(text);
    return lines;
}

void td_free_lines(td_line *lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(lines[i].text);
    free(lines);
}
