/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * libhlmem, the device-memory helper library, against the hl_double
 * device (both uapi generations, through the runner).
 */
#include "habana_fixture.h"

#include <src/tools/hlmem/hlmem.h>

#include <cerrno>
#include <vector>

class hlmem_test : public ::testing::Test {
protected:
    void SetUp() override
    {
        if (env_int("HL_DOUBLE_DEVICES", 1) == 0) {
            GTEST_SKIP() << "no device in this configuration";
        }
        ASSERT_EQ(0, hlmem_init(0));
    }
};

TEST(hlmem_nodev, counts_devices)
{
    EXPECT_EQ(env_int("HL_DOUBLE_DEVICES", 1), hlmem_device_count());
    if (hlmem_device_count() == 0) {
        EXPECT_EQ(-ENODEV, hlmem_init(0));
        EXPECT_EQ(nullptr, hlmem_alloc(4096));
        EXPECT_EQ(ENODEV, errno);
    }
}

TEST_F(hlmem_test, copies_round_trip)
{
    const size_t size = 3 * 1024 * 1024 + 5;
    std::vector<char> in(size), out(size, 0);
    for (size_t i = 0; i < size; ++i) {
        in[i] = (char)(i * 13);
    }

    char *a = (char*)hlmem_alloc(size);
    char *b = (char*)hlmem_alloc(size);
    ASSERT_NE(nullptr, a);
    ASSERT_NE(nullptr, b);
    EXPECT_TRUE(hlmem_is_device_ptr(a + size - 1));
    EXPECT_FALSE(hlmem_is_device_ptr(in.data()));

    ASSERT_EQ(0, hlmem_copy_to_device(a, in.data(), size));
    ASSERT_EQ(0, hlmem_copy_device(b, a, size));
    ASSERT_EQ(0, hlmem_copy(out.data(), b, size));
    EXPECT_TRUE(in == out);

    ASSERT_EQ(0, hlmem_memset(b + 10, 0x5a, 1000));
    ASSERT_EQ(0, hlmem_copy_from_device(out.data(), b, 2000));
    EXPECT_EQ(in[9], out[9]);
    EXPECT_EQ(0x5a, out[10]);
    EXPECT_EQ(0x5a, out[1009]);
    EXPECT_EQ(in[1010], out[1010]);

    EXPECT_EQ(0, hlmem_free(a));
    EXPECT_EQ(0, hlmem_free(b));
}

TEST_F(hlmem_test, bad_arguments_are_errors)
{
    char host[64];
    char *a = (char*)hlmem_alloc(65536);
    ASSERT_NE(nullptr, a);

    EXPECT_EQ(-EINVAL, hlmem_free(a + 64));       /* not the base */
    EXPECT_EQ(-EINVAL, hlmem_free(host));         /* not device memory */
    /* a device range beyond the mapping: the driver says EINVAL */
    EXPECT_EQ(-EINVAL, hlmem_copy_to_device(a + 65000, host, 1024));
    EXPECT_EQ(-EFAULT, hlmem_copy_from_device(host, host, sizeof(host)));
    EXPECT_EQ(0, hlmem_free(a));
    EXPECT_EQ(-EINVAL, hlmem_free(a));            /* already freed */
    EXPECT_EQ(-EINVAL, hlmem_copy_to_device(a, host, sizeof(host)));
}

/* Memory some other part of the process mapped (UCX, a runtime): copies
 * go through the default device, the driver checks the range */
TEST_F(hlmem_test, copies_memory_mapped_by_others)
{
    const size_t size = 100000;
    std::vector<char> in(size), out(size, 0);
    dev_buffer buf;

    for (size_t i = 0; i < size; ++i) {
        in[i] = (char)(i * 7 + 1);
    }
    ASSERT_TRUE(dev_buffer_alloc(0, 2 * 65536, &buf)) << strerror(errno);
    EXPECT_FALSE(hlmem_is_device_ptr(buf.va));
    ASSERT_EQ(0, hlmem_copy(buf.va, in.data(), size));
    ASSERT_EQ(0, hlmem_copy(out.data(), buf.va, size));
    EXPECT_TRUE(in == out);
    /* beyond the mapping: the driver refuses */
    EXPECT_NE(0, hlmem_copy_to_device((char*)buf.va + 2 * 65536 - 8,
                                      in.data(), 64));
    EXPECT_EQ(0, dev_buffer_free(&buf));
}

TEST_F(hlmem_test, pci_bus_id_from_sysfs)
{
    char bus_id[32];

    /* the double places each device on PCI; hlsim's are faux devices */
    int ret = hlmem_device_pci_bus_id(0, bus_id, sizeof(bus_id));
    if (have_double()) {
        ASSERT_EQ(0, ret);
        unsigned d, b, s, f;
        EXPECT_EQ(4, sscanf(bus_id, "%x:%x:%x.%x", &d, &b, &s, &f)) << bus_id;
    } else {
        EXPECT_EQ(-ENOENT, ret);
    }
    EXPECT_EQ(-ENODEV, hlmem_device_pci_bus_id(hlmem_device_count(), bus_id,
                                               sizeof(bus_id)));
    EXPECT_EQ(-ENOSPC, ret == 0 ? hlmem_device_pci_bus_id(0, bus_id, 4) :
                                  -ENOSPC);
}

/*
 * Memory another allocator mapped (a UCX memory domain), in a process that
 * works on device 1 only: libhlmem copies through device 1.  Runs in a
 * process of its own (the runner's filter), since libhlmem keeps devices
 * open for the life of the process.
 */
TEST(hlmem_untracked, copies_through_the_device_the_process_uses)
{
    std::vector<char> in(4096, 'x'), out(4096, 0);
    dev_buffer buf;

    if (env_int("HL_DOUBLE_DEVICES", 1) < 2) {
        GTEST_SKIP() << "needs two devices";
    }
    unsetenv("HLMEM_DEVICE");
    ASSERT_EQ(0, hlmem_init(1));
    ASSERT_TRUE(dev_buffer_alloc(1, 65536, &buf)) << strerror(errno);
    EXPECT_EQ(0, hlmem_copy(buf.va, in.data(), in.size()));
    EXPECT_EQ(0, hlmem_copy(out.data(), buf.va, out.size()));
    EXPECT_TRUE(in == out);
    EXPECT_EQ(0, dev_buffer_free(&buf));
}
