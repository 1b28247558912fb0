/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * Shared pieces of the gtest suite: device memory through the habanalabs
 * uapi (served by the hl_double preload or a real driver), and a test
 * double of libucm_habana's mapping tracker.
 */
#ifndef HABANA_FIXTURE_H_
#define HABANA_FIXTURE_H_

#include <gtest/gtest.h>
#include <uct/api/uct.h>

#include <cstdint>
#include <cstdlib>
#include <string>

/* Environment the runner script set for this run */
static inline int env_int(const char *name, int dflt)
{
    const char *value = getenv(name);
    return (value != NULL) ? atoi(value) : dflt;
}

static inline std::string env_str(const char *name, const char *dflt)
{
    const char *value = getenv(name);
    return (value != NULL) ? value : dflt;
}

/* One device allocation made through HL_MEM_OP_ALLOC + HL_MEM_OP_MAP */
struct dev_buffer {
    void     *va;
    size_t   size;
    uint64_t handle;
    int      fd;
};

/* Allocate and map on device @dev (at @hint if free); the compute fd
 * stays open */
bool dev_buffer_alloc(int dev, size_t size, dev_buffer *buf,
                      void *hint = NULL);
/* Close the test's compute descriptor of @dev (no buffer of it may live) */
void dev_compute_close(int dev);
/* dup() the test's compute descriptor of @dev and close the original, as
 * an application may: the context lives on in the new descriptor, which
 * is returned (-1 on error) */
int dev_compute_move(int dev);
/* Unmap and free; reports the unmap to the tracker double first */
int dev_buffer_free(dev_buffer *buf);
int dev_copy_h2d(const dev_buffer &buf, size_t offset, const void *src,
                 size_t len);
int dev_copy_d2h(void *dst, const dev_buffer &buf, size_t offset, size_t len);

/* libucm_habana test double: answers for buffers registered here */
void tracker_double_enable(bool enable);
void tracker_double_add(const dev_buffer &buf);
void tracker_double_remove(const dev_buffer &buf);

/* Is the hl_double preload there (else: a kernel driver, e.g. hlsim)? */
bool have_double();

/* hl_double helpers, looked up at run time */
unsigned long double_export_count();
unsigned long double_live_exports();
int double_set(const char *knob, long value);

/* Device memory the memory domain allocates (UCP_MEM_MAP_ALLOCATE) */
ucs_status_t md_alloc(uct_md_h md, size_t length, uct_allocated_memory_t *mem);

/* A habana memory domain opened through the UCT API */
class habana_md : public ::testing::Test {
protected:
    void SetUp() override;
    void TearDown() override;
    void open_md(const char *dmabuf_mode);
    void close_md();

    uct_component_h m_component = NULL;
    uct_md_h        m_md        = NULL;
    unsigned        m_num_mds   = 0;
};

#endif
