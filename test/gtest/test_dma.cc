/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * The DMA engine (src/common/habana_dma.c) on its own: its host-mapping
 * cache under the access pattern of large staged transfers.
 */
#include "habana_fixture.h"

extern "C" {
#include <src/common/habana_dma.h>
}

#include <cerrno>
#include <sys/mman.h>
#include <cstring>
#include <vector>

class habana_md_dma : public habana_md {
protected:
    void SetUp() override
    {
        habana_md::SetUp();
        if (env_int("HL_DOUBLE_DEVICES", 1) == 0) {
            GTEST_SKIP() << "no device in this configuration";
        }
        ASSERT_TRUE(dev_buffer_alloc(0, BUF, &m_dev)) << strerror(errno);

        habana_dma_params_t params = {};
        params.gen        = (env_str("HL_DOUBLE_ABI", "accel") == "misc") ?
                            &habana_uapi_misc : &habana_uapi_accel;
        params.fd         = m_dev.fd;
        params.cache_host    = 1;
        params.cache_entries = CACHE;
        params.backend       = "cs";
        char why[512];
        ASSERT_EQ(0, habana_dma_open(&params, &m_dma, why, sizeof(why)))
                << why;
    }

    void TearDown() override
    {
        if (m_dma != NULL) {
            habana_dma_close(m_dma);
        }
        if (m_dev.va != NULL) {
            dev_buffer_free(&m_dev);
        }
        habana_md::TearDown();
    }

    /* H2D of host buffer @i of the pool, checked */
    void copy_from(std::vector<std::vector<char>> &pool, size_t i)
    {
        pool[i][0] = (char)i;
        ASSERT_EQ(0, habana_dma_copy(m_dma, m_dev.va, pool[i].data(), BUF,
                                     HABANA_DMA_H2D));
        char first;
        ASSERT_EQ(0, dev_copy_d2h(&first, m_dev, 0, 1));
        ASSERT_EQ((char)i, first) << "copy from buffer " << i;
    }

    /* The first page boundary in @buf (one page more than it must hold) */
    static char *page_aligned(std::vector<char> &buf)
    {
        uintptr_t start = (uintptr_t)buf.data() + HOST_PAGE - 1;

        return (char*)(start & ~(HOST_PAGE - 1));
    }

    /* larger than what the engine bounces when it has a cache */
    static constexpr size_t BUF = 128 * 1024;
    static constexpr unsigned CACHE = 256;
    static constexpr uintptr_t HOST_PAGE = 4096;
    dev_buffer          m_dev = {};
    habana_dma_t        *m_dma = NULL;
};

/*
 * Issue 14: UCP stages a large message through more host fragments than
 * the cache holds.  Mapping each copy anew (evicting what the next copies
 * need) cost a USERPTR map and unmap per fragment; such copies are bounced
 * instead, while memory the caller stopped using still ages out.
 */
TEST_F(habana_md_dma, cycling_through_more_memory_than_the_cache_bounces)
{
    std::vector<std::vector<char>> pool(300, std::vector<char>(BUF, 1));
    habana_dma_usage_t usage;

    for (int round = 0; round < 3; ++round) {
        for (size_t i = 0; i < pool.size(); ++i) {
            ASSERT_NO_FATAL_FAILURE(copy_from(pool, i));
        }
    }
    habana_dma_usage(m_dma, &usage);
    EXPECT_EQ(CACHE, usage.capacity);
    EXPECT_EQ(CACHE, usage.cached);
    /* the cache keeps the first 256 and serves them each round; only the
     * other 44 bounce (LRU eviction made all 300 miss every round) */
    uint64_t bounced = usage.bounced;
    EXPECT_EQ(3u * (pool.size() - CACHE), bounced)
            << "copies past the cache mapped anew, evicting the next ones";

    /* a new, small working set: once the old entries are old, it is
     * mapped (and copied without the bounce) again */
    std::vector<std::vector<char>> next(8, std::vector<char>(BUF, 2));
    for (int n = 0; n < 2000; ++n) {
        ASSERT_NO_FATAL_FAILURE(copy_from(next, n % next.size()));
    }
    habana_dma_usage(m_dma, &usage);
    bounced = usage.bounced;
    for (int n = 0; n < 100; ++n) {
        ASSERT_NO_FATAL_FAILURE(copy_from(next, n % next.size()));
    }
    habana_dma_usage(m_dma, &usage);
    EXPECT_EQ(bounced, usage.bounced)
            << "a working set that fits the cache is still bounced";
}

/*
 * A registered range with a part the device cannot pin (here: unmapped
 * since): the copy maps its own pages instead of bouncing
 */
TEST_F(habana_md_dma, a_region_that_cannot_be_pinned_whole_maps_the_copy)
{
    const size_t len = 16 * BUF;
    char *host = (char*)mmap(NULL, len, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(MAP_FAILED, (void*)host);
    ASSERT_EQ(0, munmap(host + 8 * BUF, BUF)); /* a hole */

    habana_dma_region_t region = {(uintptr_t)host, len};
    habana_dma_usage_t before, after;
    habana_dma_usage(m_dma, &before);
    memset(host, 7, BUF);
    ASSERT_EQ(0, habana_dma_copy_in(m_dma, m_dev.va, host, BUF,
                                    HABANA_DMA_H2D, &region))
            << habana_dma_error(m_dma);
    habana_dma_usage(m_dma, &after);
    EXPECT_EQ(before.cached + 1, after.cached)
            << "the copy was bounced instead of mapped";
    char first;
    ASSERT_EQ(0, dev_copy_d2h(&first, m_dev, 0, 1));
    EXPECT_EQ(7, first);

    munmap(host, 8 * BUF);
    munmap(host + 9 * BUF, 7 * BUF);
}

/*
 * The cache is kept sorted by address with overlapping entries: a mapping
 * of a copy's pages, and later the whole registered region around it.  A
 * copy anywhere in the region is found (no new mapping), and an unmap of
 * part of the region drops every entry it touches, also the one that
 * starts below it.
 */
TEST_F(habana_md_dma, overlapping_mappings_are_found_and_dropped)
{
    const size_t len = 16 * BUF;
    std::vector<char> host_buf(len + HOST_PAGE);
    char *host = page_aligned(host_buf);
    habana_dma_region_t region = {(uintptr_t)host, len};
    habana_dma_usage_t before, after;

    memset(host, 3, len);
    /* the copy's own pages, then the region around them */
    ASSERT_EQ(0, habana_dma_copy(m_dma, m_dev.va, host + BUF, BUF,
                                 HABANA_DMA_H2D)) << habana_dma_error(m_dma);
    ASSERT_EQ(0, habana_dma_copy_in(m_dma, m_dev.va, host + 5 * BUF, BUF,
                                    HABANA_DMA_H2D, &region))
            << habana_dma_error(m_dma);
    habana_dma_usage(m_dma, &before);

    for (size_t at : {0ul, BUF, BUF + 100, 10 * BUF, 15 * BUF}) {
        ASSERT_EQ(0, habana_dma_copy(m_dma, m_dev.va, host + at, BUF,
                                     HABANA_DMA_H2D))
                << habana_dma_error(m_dma);
    }
    habana_dma_usage(m_dma, &after);
    EXPECT_EQ(before.host_maps, after.host_maps)
            << "a copy inside a mapped region was mapped again";
    EXPECT_EQ(before.cached, after.cached);

    /* an unmap of pages of the region: the region's entry goes, the copy's
     * own mapping (elsewhere in it) stays */
    habana_dma_host_unmapped(m_dma, host + 10 * BUF, BUF);
    habana_dma_usage(m_dma, &after);
    EXPECT_EQ(before.cached - 1, after.cached);
    ASSERT_EQ(0, habana_dma_copy(m_dma, m_dev.va, host + BUF, BUF,
                                 HABANA_DMA_H2D));
    ASSERT_EQ(0, habana_dma_copy(m_dma, m_dev.va, host + 10 * BUF, BUF,
                                 HABANA_DMA_H2D));
    habana_dma_usage(m_dma, &before);
    EXPECT_EQ(after.host_maps + 1, before.host_maps)
            << "only the unmapped part needs a new mapping";
    char first;
    ASSERT_EQ(0, dev_copy_d2h(&first, m_dev, 0, 1));
    EXPECT_EQ(3, first);
}

/*
 * Copies of 16..64 KiB from a registered region (UCX's staging chunks) go
 * direct: the region is mapped once for all of them, no copy goes through
 * the bounce buffer (a CPU copy more).  From memory neither registered nor
 * mapped they are bounced: mapping pages for one small copy costs more
 * than the bounce.
 */
TEST_F(habana_md_dma, small_copies_from_a_registered_region_go_direct)
{
    const size_t small = 32 * 1024, len = 16 * small;
    std::vector<char> host_buf(len + HOST_PAGE), loose(small, 9);
    char *host = page_aligned(host_buf);
    habana_dma_region_t region = {(uintptr_t)host, len};
    habana_dma_usage_t before, after;
    char first;

    habana_dma_usage(m_dma, &before);
    for (int round = 0; round < 2; ++round) {
        for (size_t i = 0; i < len / small; ++i) {
            memset(host + i * small, (int)(i + round), small);
            ASSERT_EQ(0, habana_dma_copy_in(m_dma, m_dev.va, host + i * small,
                                            small, HABANA_DMA_H2D, &region))
                    << habana_dma_error(m_dma);
            ASSERT_EQ(0, dev_copy_d2h(&first, m_dev, 0, 1));
            ASSERT_EQ((char)(i + round), first);
        }
    }
    habana_dma_usage(m_dma, &after);
    EXPECT_EQ(before.host_maps + 1, after.host_maps)
            << "the fragments of a registered region were bounced";

    ASSERT_EQ(0, habana_dma_copy(m_dma, m_dev.va, loose.data(), small,
                                 HABANA_DMA_H2D));
    habana_dma_usage(m_dma, &before);
    EXPECT_EQ(after.host_maps, before.host_maps)
            << "unregistered memory was mapped for one small copy";
    ASSERT_EQ(0, dev_copy_d2h(&first, m_dev, 0, 1));
    EXPECT_EQ(9, first);
}
