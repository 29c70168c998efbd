"""The extraction report as the driver prints it."""

from frittata.extract.extraction import ExtractionReport


def test_the_report_gives_every_cost_in_milliseconds():
    report = ExtractionReport("ilp", "cpu", cost=0.002, greedy_cost=0.003, original_cost=0.004, lower_bound=0.0015,
                              optimal=False, status="time limit", seconds=0.5, n_nodes=7, n_classes=3)
    assert str(report) == ("extract[ilp, cpu]: cost 2.0000 ms (input program 4.0000 ms, greedy 3.0000 ms), "
                           "gap 25.00%, time limit, 7 e-nodes / 3 e-classes in 0.500 s")
    unknown = ExtractionReport("greedy", "cpu", 0.002, 0.002, None, None, False, "greedy", 0.1, 7, 3)
    assert "(input program n/a, greedy 2.0000 ms), gap unknown" in str(unknown)
