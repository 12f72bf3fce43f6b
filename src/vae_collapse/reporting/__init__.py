"""What a run leaves behind: summary.json, the printed result table, logger set-up."""
