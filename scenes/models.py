# Stories, chapters, scenes and characters arrive with their issue (templates and scenes).
