// mmap.c — POSIX read-only mapping of a whole file (MAP_PRIVATE, PROT_READ).
#include "core/mmap.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/status.h"

xt_status xt_mapping_open(const char *path, xt_mapping *out) {
    // O_NONBLOCK: opening a FIFO with no writer must fail at once instead of blocking.
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return xt_error_errno(errno, "cannot open '%s'", path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return xt_error_errno(err, "cannot stat '%s'", path);
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return xt_error_errno(EISDIR, "cannot open '%s'", path);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return xt_error(XT_ERR_BAD_FILE, "'%s' is not a regular file", path);
    }
    xt_mapping m = {.data = NULL, .size = (size_t)st.st_size};
    if (m.size > 0) {
        void *p = mmap(NULL, m.size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int err = errno;
            close(fd);
            return xt_error_errno(err, "cannot map '%s'", path);
        }
        m.data = p;
    }
    close(fd);  // the mapping stays valid after close
    *out = m;
    return XT_OK;
}

void xt_mapping_close(xt_mapping *m) {
    if (m->data != NULL) munmap((void *)m->data, m->size);
    m->data = NULL;
    m->size = 0;
}
