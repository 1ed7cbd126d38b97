"""The dashboard's sections, one module each; they share the kit (`deps`, `render`, `forms`,
`paging`) and never import each other."""
