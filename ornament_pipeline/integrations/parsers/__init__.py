"""Pure parsers: HTML string + page URL -> data. No WebDriver here."""
