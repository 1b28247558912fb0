/*
 * Copyright (C) ucx-habana contributors. ALL RIGHTS RESERVED.
 * See file LICENSE for terms.
 *
 * topo_test: the PCI path classes of libhabana_topo against an hwloc XML
 * topology with two sockets, three host bridges and two PCIe switches
 * (test/topo/two-switch.xml).  Usage: topo_test TWO_SWITCH_XML.
 * Prints one line per check and "N passed, N failed"; exit 1 on a failure.
 */
#include <src/common/habana_topo.h>

#include <stdio.h>
#include <string.h>

static int passed, failed;

static void expect(int ok, const char *what)
{
    printf("%s: %s\n", ok ? "ok  " : "FAIL", what);
    if (ok) {
        ++passed;
    } else {
        ++failed;
    }
}

static void expect_path(habana_topo_t *topo, const char *acc_bus,
                        const char *nic, habana_topo_path_t expected)
{
    habana_topo_obj_t acc = habana_topo_find_pci(topo, acc_bus);
    habana_topo_obj_t rdma = habana_topo_find_rdma(topo, nic, NULL);
    habana_topo_path_t path = habana_topo_classify(topo, acc, rdma);
    habana_topo_path_t back = habana_topo_classify(topo, rdma, acc);
    char what[160];

    snprintf(what, sizeof(what), "%s <-> %s: %s (expected %s)", acc_bus, nic,
             habana_topo_path_name(path), habana_topo_path_name(expected));
    expect((acc != NULL) && (rdma != NULL) && (path == expected) &&
           (back == path), what);
}

static void expect_numa(habana_topo_t *topo, habana_topo_obj_t obj,
                        const char *name, int expected)
{
    char list[32], want[16], what[96];
    int first = habana_topo_numa(topo, obj, list, sizeof(list));

    snprintf(want, sizeof(want), "%d", expected);
    snprintf(what, sizeof(what), "%s: numa %s (expected %s)", name, list,
             want);
    expect((first == expected) && !strcmp(list, want), what);
}

int main(int argc, char **argv)
{
    static const char *expected_rdma[] = {"mlx5_1", "mlx5_0", "mlx5_2",
                                          "mlx5_3"};
    habana_topo_obj_t iter = NULL, acc0, nics[4];
    habana_topo_path_t path;
    habana_topo_t *topo;
    const char *name;
    char why[256], bus[32];
    unsigned count = 0;
    int order_ok = 1;

    if (argc != 2) {
        fprintf(stderr, "usage: %s TWO_SWITCH_XML\n", argv[0]);
        return 2;
    }

    if (habana_topo_open(argv[1], &topo, why, sizeof(why)) != 0) {
        printf("FAIL: %s\n", why);
        return 1;
    }

    /* habana0 shares switch 0 with mlx5_0, host bridge 0 with mlx5_1,
     * socket 0 with mlx5_2; mlx5_3 is on the other socket */
    expect_path(topo, "0000:3a:00.0", "mlx5_0", HABANA_TOPO_PATH_SWITCH);
    expect_path(topo, "0000:3a:00.0", "mlx5_1",
                HABANA_TOPO_PATH_HOST_BRIDGE);
    expect_path(topo, "0000:3a:00.0", "mlx5_2", HABANA_TOPO_PATH_PACKAGE);
    expect_path(topo, "0000:3a:00.0", "mlx5_3", HABANA_TOPO_PATH_SYSTEM);
    /* habana1 sits on socket 1 behind switch 1, with mlx5_3 */
    expect_path(topo, "0000:3b:00.0", "mlx5_0", HABANA_TOPO_PATH_SYSTEM);
    expect_path(topo, "0000:3b:00.0", "mlx5_1", HABANA_TOPO_PATH_SYSTEM);
    expect_path(topo, "0000:3b:00.0", "mlx5_2", HABANA_TOPO_PATH_SYSTEM);
    expect_path(topo, "3b:00.0", "mlx5_3", HABANA_TOPO_PATH_SWITCH);

    acc0 = habana_topo_find_pci(topo, "0000:3a:00.0");
    expect(habana_topo_classify(topo, acc0, acc0) == HABANA_TOPO_PATH_DEVICE,
           "habana0 <-> itself: same PCI device");
    expect(habana_topo_find_pci(topo, "0000:3c:00.0") == NULL,
           "0000:3c:00.0 is not in the topology");
    expect(habana_topo_classify(topo, acc0,
                                habana_topo_find_rdma(topo, "mlx5_9", "")) ==
           HABANA_TOPO_PATH_UNKNOWN, "habana0 <-> mlx5_9 (absent): unknown");

    expect_numa(topo, acc0, "habana0", 0);
    expect_numa(topo, habana_topo_find_pci(topo, "0000:3b:00.0"), "habana1",
                1);
    expect_numa(topo, habana_topo_find_rdma(topo, "mlx5_2", NULL), "mlx5_2",
                0);
    expect_numa(topo, habana_topo_find_rdma(topo, "mlx5_3", NULL), "mlx5_3",
                1);

    habana_topo_bus_id(habana_topo_find_rdma(topo, "mlx5_0", NULL), bus,
                       sizeof(bus));
    expect(!strcmp(bus, "0000:33:00.0"), "mlx5_0 is at 0000:33:00.0");

    while ((name = habana_topo_next_rdma(topo, &iter)) != NULL) {
        order_ok = order_ok && (count < 4) &&
                   !strcmp(name, expected_rdma[count]);
        ++count;
    }
    expect(order_ok && (count == 4), "RDMA devices: mlx5_1 mlx5_0 mlx5_2 "
                                     "mlx5_3, in topology order");

    for (count = 0; count < 4; ++count) {
        nics[count] = habana_topo_find_rdma(topo, expected_rdma[count], NULL);
    }
    expect((habana_topo_nearest(topo, acc0, nics, 4, &path) == 1) &&
           (path == HABANA_TOPO_PATH_SWITCH),
           "nearest to habana0: mlx5_0, same PCIe switch");
    expect((habana_topo_nearest(topo, habana_topo_find_pci(topo, "3b:00.0"),
                                nics, 4, &path) == 3) &&
           (path == HABANA_TOPO_PATH_SWITCH),
           "nearest to habana1: mlx5_3, same PCIe switch");
    expect((habana_topo_nearest(topo, acc0, nics, 1, &path) == 0) &&
           (path == HABANA_TOPO_PATH_HOST_BRIDGE),
           "nearest to habana0 of mlx5_1 alone: same host bridge");
    expect((habana_topo_nearest(topo, habana_topo_find_pci(topo, "3b:00.0"),
                                nics, 3, &path) == 0) &&
           (path == HABANA_TOPO_PATH_SYSTEM),
           "nearest to habana1 of mlx5_1, mlx5_0, mlx5_2: the first, "
           "across sockets");

    habana_topo_close(topo);
    printf("%d passed, %d failed\n", passed, failed);
    return (failed == 0) ? 0 : 1;
}
