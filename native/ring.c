/*
 * A turn's socket sends in one io_uring submission.
 *
 * Each entry becomes one IORING_OP_SEND (one frame) or IORING_OP_SENDMSG
 * (several, as writev would send them) with MSG_DONTWAIT: on a non-blocking
 * socket the kernel runs it during io_uring_enter and posts its result at
 * once, the count write(2) would return or -EAGAIN when the socket's buffer
 * is full, never arming a wait for room. A send still not complete after
 * its submission (a kernel that would run it later) is cancelled and waited
 * for, so nothing is in flight once ring_send_each returns: the caller
 * writes what a socket did not take through its stream, after these bytes.
 *
 * The ring is written without liburing (not a Debian build dependency we
 * want): the three shared mappings and io_uring_enter, as io_uring(7) shows.
 */
#define _GNU_SOURCE /* syscall(2), MAP_POPULATE */
#include "ring.h"

#if defined(__linux__) && defined(__has_include)
#if __has_include(<linux/io_uring.h>)
#define HAVE_IO_URING 1
#endif
#endif

#ifndef HAVE_IO_URING

#include <errno.h>
int ring_open(struct ring *ring) { (void)ring; return -ENOSYS; }
void ring_close(struct ring *ring) { (void)ring; }
int ring_send_each(struct ring *ring, const int32_t *fds, const int32_t *first, const int32_t *counts,
                   const struct iovec *frames, size_t n, int32_t *written, size_t *done) {
  (void)ring, (void)fds, (void)first, (void)counts, (void)frames, (void)n, (void)written;
  *done = 0;
  return -ENOSYS;
}

#else

#include <errno.h>
#include <linux/io_uring.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Sends per submission: a room of 500 in one, larger ones in a few. */
#define RING_ENTRIES 1024
/* written[i] of a send not complete yet. */
#define PENDING INT32_MIN
/* user_data of the cancellations (entries' own user_data is their index). */
#define CANCELLATION UINT64_MAX

static int enter(int fd, unsigned submit, unsigned wait, unsigned flags) {
  return (int)syscall(__NR_io_uring_enter, fd, submit, wait, flags, NULL, 0);
}

static void *map(int fd, size_t size, off_t offset) {
  void *mapped = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, offset);
  return mapped == MAP_FAILED ? NULL : mapped;
}

int ring_open(struct ring *ring) {
  memset(ring, 0, sizeof *ring);
  struct io_uring_params params;
  memset(&params, 0, sizeof params);
  /* Keep submitting past a failed entry (5.18); complete without interrupting the thread (5.19). */
  params.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN;
  int fd = (int)syscall(__NR_io_uring_setup, RING_ENTRIES, &params);
  if (fd < 0) return -errno;
  ring->fd = fd;
  ring->entries = params.sq_entries;
  ring->sq_map_size = params.sq_off.array + params.sq_entries * sizeof(unsigned);
  ring->cq_map_size = params.cq_off.cqes + params.cq_entries * sizeof(struct io_uring_cqe);
  ring->sqes_size = params.sq_entries * sizeof(struct io_uring_sqe);
  int single = (params.features & IORING_FEAT_SINGLE_MMAP) != 0;
  if (single && ring->cq_map_size > ring->sq_map_size) ring->sq_map_size = ring->cq_map_size;
  ring->sq_map = map(fd, ring->sq_map_size, IORING_OFF_SQ_RING);
  ring->cq_map = single ? ring->sq_map : map(fd, ring->cq_map_size, IORING_OFF_CQ_RING);
  ring->sqes = map(fd, ring->sqes_size, IORING_OFF_SQES);
  ring->headers = calloc(ring->entries, sizeof(struct msghdr));
  if (ring->sq_map == NULL || ring->cq_map == NULL || ring->sqes == NULL || ring->headers == NULL) {
    int error = errno != 0 ? errno : ENOMEM;
    ring_close(ring);
    return -error;
  }
  char *sq = ring->sq_map, *cq = ring->cq_map;
  ring->sq_head = (unsigned *)(sq + params.sq_off.head);
  ring->sq_tail = (unsigned *)(sq + params.sq_off.tail);
  ring->sq_mask = (unsigned *)(sq + params.sq_off.ring_mask);
  ring->sq_array = (unsigned *)(sq + params.sq_off.array);
  ring->cq_head = (unsigned *)(cq + params.cq_off.head);
  ring->cq_tail = (unsigned *)(cq + params.cq_off.tail);
  ring->cq_mask = (unsigned *)(cq + params.cq_off.ring_mask);
  ring->cqes = cq + params.cq_off.cqes;
  return 0;
}

void ring_close(struct ring *ring) {
  if (ring->sqes != NULL) munmap(ring->sqes, ring->sqes_size);
  if (ring->cq_map != NULL && ring->cq_map != ring->sq_map) munmap(ring->cq_map, ring->cq_map_size);
  if (ring->sq_map != NULL) munmap(ring->sq_map, ring->sq_map_size);
  if (ring->fd > 0) close(ring->fd);
  free(ring->headers);
  memset(ring, 0, sizeof *ring);
}

/* The next free submission entry (the caller checked there is room), cleared. */
static struct io_uring_sqe *next_entry(struct ring *ring, unsigned *tail) {
  unsigned slot = (*tail)++ & *ring->sq_mask;
  ring->sq_array[slot] = slot;
  struct io_uring_sqe *sqe = (struct io_uring_sqe *)ring->sqes + slot;
  memset(sqe, 0, sizeof *sqe);
  return sqe;
}

/* Records every posted completion; returns how many entries' sends they settled. */
static unsigned reap(struct ring *ring, int32_t *written) {
  unsigned settled = 0;
  unsigned head = *ring->cq_head;
  unsigned tail = __atomic_load_n(ring->cq_tail, __ATOMIC_ACQUIRE);
  for (; head != tail; head++) {
    struct io_uring_cqe *cqe = (struct io_uring_cqe *)ring->cqes + (head & *ring->cq_mask);
    if (cqe->user_data == CANCELLATION) continue;
    /* Cancelled before it ran: nothing was sent, as when the buffer is full. */
    written[cqe->user_data] = cqe->res == -ECANCELED ? -EAGAIN : cqe->res;
    settled++;
  }
  __atomic_store_n(ring->cq_head, head, __ATOMIC_RELEASE);
  return settled;
}

/* Submits `count` queued entries; the number the kernel took (fewer: *error says why). */
static unsigned submit(struct ring *ring, unsigned count, int *error) {
  unsigned taken = 0;
  while (taken < count) {
    int result = enter(ring->fd, count - taken, 0, 0);
    if (result < 0 && errno == EINTR) continue;
    if (result <= 0) {
      *error = result < 0 ? -errno : -EIO;
      break;
    }
    taken += (unsigned)result;
  }
  return taken;
}

/*
 * Cancels the sends of entries [from, to) still pending and waits for them
 * (and for the cancellations' own completions). 0, or -errno.
 */
static int settle_rest(struct ring *ring, size_t from, size_t to, unsigned pending, int32_t *written) {
  unsigned tail = *ring->sq_tail, cancels = 0;
  for (size_t i = from; i < to && cancels < pending; i++) {
    if (written[i] != PENDING) continue;
    struct io_uring_sqe *sqe = next_entry(ring, &tail);
    sqe->opcode = IORING_OP_ASYNC_CANCEL;
    sqe->addr = i;
    sqe->user_data = CANCELLATION;
    cancels++;
  }
  __atomic_store_n(ring->sq_tail, tail, __ATOMIC_RELEASE);
  int error = 0;
  if (submit(ring, cancels, &error) < cancels) return error;
  while (pending > 0) {
    int result = enter(ring->fd, 0, 1, IORING_ENTER_GETEVENTS);
    if (result < 0 && errno != EINTR) return -errno;
    pending -= reap(ring, written);
  }
  return 0;
}

int ring_send_each(struct ring *ring, const int32_t *fds, const int32_t *first, const int32_t *counts,
                   const struct iovec *frames, size_t n, int32_t *written, size_t *done) {
  struct msghdr *headers = ring->headers;
  size_t next = 0;
  *done = 0;
  while (next < n) {
    size_t from = next;
    unsigned queued = 0;
    unsigned tail = *ring->sq_tail;
    for (; next < n && queued < ring->entries; next++) {
      if (counts[next] <= 0) continue; /* the caller writes this one itself */
      struct io_uring_sqe *sqe = next_entry(ring, &tail);
      sqe->fd = fds[next];
      sqe->msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL;
      sqe->user_data = next;
      const struct iovec *frame = &frames[first[next]];
      if (counts[next] == 1) {
        sqe->opcode = IORING_OP_SEND;
        sqe->addr = (uintptr_t)frame->iov_base;
        sqe->len = (uint32_t)frame->iov_len;
      } else {
        struct msghdr *header = &headers[queued];
        memset(header, 0, sizeof *header);
        header->msg_iov = (struct iovec *)frame;
        header->msg_iovlen = (size_t)counts[next];
        sqe->opcode = IORING_OP_SENDMSG;
        sqe->addr = (uintptr_t)header;
        sqe->len = 1;
      }
      written[next] = PENDING;
      queued++;
    }
    __atomic_store_n(ring->sq_tail, tail, __ATOMIC_RELEASE);
    int error = 0;
    unsigned submitted = submit(ring, queued, &error);
    unsigned pending = submitted - reap(ring, written);
    if (submitted < queued) {
      /* The ring failed: the first `submitted` sends went in; the caller writes from the next one on. */
      size_t end = from;
      for (unsigned taken = 0; end < next && (counts[end] <= 0 || taken < submitted); end++)
        if (counts[end] > 0) taken++;
      /* A send of theirs still pending cannot be cancelled behind the entries the kernel refused:
         sent or not, nobody can say, and the caller must not write it again. */
      for (size_t i = from; pending > 0 && i < end; i++) if (written[i] == PENDING) written[i] = -EIO;
      *done = end;
      return error;
    }
    if (pending > 0) {
      int settled = settle_rest(ring, from, next, pending, written);
      if (settled != 0) {
        for (size_t i = from; i < next; i++) if (written[i] == PENDING) written[i] = -EIO;
        *done = next;
        return settled;
      }
    }
    *done = next;
  }
  return 0;
}

#endif
