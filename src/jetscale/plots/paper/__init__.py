"""The paper figures, drawn from their numbers files alone (:mod:`jetscale.paper.figures`)."""
