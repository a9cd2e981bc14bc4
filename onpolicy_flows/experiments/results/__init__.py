"""docs/results.md from harvested runs: each grid's curves and final returns, statistics over
seeds, the verdict rule and the paper's claims. May import `grids`, `figures`,
`experiments`' own modules and below."""
