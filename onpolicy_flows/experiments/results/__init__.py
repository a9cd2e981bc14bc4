"""docs/results.md from harvested runs: each grid's curves and final returns, statistics over
seeds, the verdict rule and the paper's claims. May import `grids`, `figures`,
`experiments`' own modules and below.

Read top-down: `harvested` loads the runs, `statistics` and `verdicts` judge them, `claims`
checks the paper's claims, `parity` sets the original code's runs beside the port's, `costs`
prices what no grid runs. `page` assembles the page from its sections: `page_claims` (the
claims, and where the results disagree), `page_original` (the original code's own runs),
`page_final_entropy` (how random each policy ends), `page_grids` (a section per grid),
written with `page_text` and drawn by `page_figures`."""
