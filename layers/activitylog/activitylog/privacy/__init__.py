"""Privacy: what the log keeps of people, and how it forgets them."""
