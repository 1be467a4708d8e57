/*
 * A turn's socket sends in one io_uring submission (Linux 5.19 and later;
 * elsewhere ring_open fails and the caller writes one by one). See ring.c.
 */
#ifndef SWITCHYARD_RING_H
#define SWITCHYARD_RING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct ring {
  int fd;
  unsigned entries;
  unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
  unsigned *cq_head, *cq_tail, *cq_mask;
  void *sqes, *cqes;
  void *sq_map, *cq_map;
  size_t sq_map_size, cq_map_size, sqes_size;
  /* One message header per entry of a submission, for entries of several frames. */
  void *headers;
};

/* Sets up a ring; 0, or -errno when this kernel or process cannot have one. */
int ring_open(struct ring *ring);

/* Releases the ring (nothing is in flight between calls). */
void ring_close(struct ring *ring);

/*
 * Sends each entry's frames (as write_each describes them) through the ring,
 * in submissions of at most ring->entries; written[i] as write(2) would
 * give it. Returns 0 with *done = n, or -errno when the ring itself failed:
 * then every entry before *done was sent and has its written[i], and
 * nothing was sent for the entries from *done on.
 */
int ring_send_each(struct ring *ring, const int32_t *fds, const int32_t *first, const int32_t *counts,
                   const struct iovec *frames, size_t n, int32_t *written, size_t *done);

#endif
