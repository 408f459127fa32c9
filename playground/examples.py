"""Ready example texts for the pages (Shakespeare and Goethe are public domain)."""

TOKEN_EXAMPLES = {
    "English prose": "The quick brown fox jumps over the lazy dog. Language models do not read letters or words: "
                     "they read tokens, pieces of text that a tokenizer cut out of it.",
    "Shakespeare": "ROMEO:\nBut, soft! what light through yonder window breaks?\nIt is the east, and Juliet is the sun.",
    "German (Goethe, Faust)": "Habe nun, ach! Philosophie,\nJuristerey und Medicin,\nUnd leider auch Theologie!\n"
                              "Durchaus studirt, mit heißem Bemühn.\nDa steh' ich nun, ich armer Thor!\n"
                              "Und bin so klug als wie zuvor;",
    "Python code": "def fibonacci(n: int) -> int:\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n"
                   "    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
    "Numbers and dates": "On 2026-11-25 at 14:30, 3.14159 × 1,234,567 = 3,878,509.76; call +49 30 1234567.",
    "Emoji and accents": "Crème brûlée, naïve café, Zürich, señor, Ærøskøbing 🎉🤖👩‍🔬 日本語 😀",
    "A URL": "https://www.example.org/path/to/page?query=large+language+models&lang=de#section-2",
    "Special token": "The end of one document.<|endoftext|>The start of the next.",
}
