--------------------------------- MODULE SVG ---------------------------------
(***************************************************************************)
(* Buffy's own version of the community module SVG, used by animated       *)
(* specifications (an ALIAS that draws each state). An SVG element is the  *)
(* record [name, attrs, children, innerText]: attrs a function from        *)
(* attribute names to strings, children a sequence of elements. The        *)
(* attributes given by an operator's position (x, y, r...) are merged with *)
(* the attrs argument, which wins when both name the same attribute.       *)
(* Writing files (SVGSerialize) and the layouts computed by TLC's Java     *)
(* code (NodeOfRingNetwork, NodesOfDirectedMultiGraph) stop with an error  *)
(* naming the operator when evaluated.                                     *)
(***************************************************************************)
LOCAL INSTANCE Naturals
LOCAL INSTANCE Integers
LOCAL INSTANCE Sequences
LOCAL INSTANCE TLC

SVGElem(_name, _attrs, _children, _innerText) ==
  [name |-> _name, attrs |-> _attrs, children |-> _children, innerText |-> _innerText]

Line(x1, y1, x2, y2, attrs) ==
  SVGElem("line", attrs @@ ("x1" :> ToString(x1) @@ "y1" :> ToString(y1) @@
                            "x2" :> ToString(x2) @@ "y2" :> ToString(y2)), <<>>, "")

Circle(cx, cy, r, attrs) ==
  SVGElem("circle", attrs @@ ("cx" :> ToString(cx) @@ "cy" :> ToString(cy) @@ "r" :> ToString(r)), <<>>, "")

Rect(x, y, w, h, attrs) ==
  SVGElem("rect", attrs @@ ("x" :> ToString(x) @@ "y" :> ToString(y) @@
                            "width" :> ToString(w) @@ "height" :> ToString(h)), <<>>, "")

Text(x, y, text, attrs) ==
  SVGElem("text", attrs @@ ("x" :> ToString(x) @@ "y" :> ToString(y)), <<>>, text)

Image(x, y, width, height, href, attrs) ==
  SVGElem("image", attrs @@ ("x" :> ToString(x) @@ "y" :> ToString(y) @@
                             "width" :> ToString(width) @@ "height" :> ToString(height) @@
                             "href" :> href), <<>>, "")

Group(children, attrs) == SVGElem("g", attrs, children, "")

Svg(children, attrs) == SVGElem("svg", attrs, children, "")

\* A whole document: one svg element holding children, with the viewBox
\* vbX vbY vbW vbH and the SVG name spaces.
SVGDoc(children, vbX, vbY, vbW, vbH, attrs) ==
  Svg(<<children>>,
      attrs @@ ("xmlns" :> "http://www.w3.org/2000/svg" @@
                "xmlns:xlink" :> "http://www.w3.org/1999/xlink" @@
                "viewBox" :> ToString(vbX) \o " " \o ToString(vbY) \o " " \o
                             ToString(vbW) \o " " \o ToString(vbH)))

\* The point at 1/segment of the way from the point from to the point to
\* (records with integer fields x and y).
PointOnLine(from, to, segment) ==
  [x |-> from.x + ((to.x - from.x) \div segment),
   y |-> from.y + ((to.y - from.y) \div segment)]

\* The SVG text of an element: attributes in TLC's order of their names,
\* then the children, then the inner text.
SVGElemToString(elem) ==
  LET RECURSIVE Str(_)
      Concat(seq) ==
        LET RECURSIVE C(_)
            C(i) == IF i > Len(seq) THEN "" ELSE seq[i] \o C(i + 1)
        IN C(1)
      AttrText(attrs) ==
        LET RECURSIVE A(_)
            A(keys) == IF keys = {} THEN ""
                       ELSE LET k == CHOOSE key \in keys : TRUE
                            IN " " \o k \o "=\"" \o attrs[k] \o "\"" \o A(keys \ {k})
        IN A(DOMAIN attrs)
      Str(e) ==
        "<" \o e.name \o AttrText(e.attrs) \o ">" \o
        Concat([i \in DOMAIN e.children |-> Str(e.children[i])]) \o
        e.innerText \o "</" \o e.name \o ">"
  IN Str(elem)

SVGSerialize(svg, frameNamePrefix, frameNumber) ==
  Assert(FALSE, "SVG!SVGSerialize is not supported by Buffy: it writes files from an expression")

NodeOfRingNetwork(cx, cy, r, n, m) ==
  Assert(FALSE, "SVG!NodeOfRingNetwork is not supported by Buffy (TLC computes it with floating point)")

NodesOfDirectedMultiGraph(nodes, edges, options) ==
  Assert(FALSE, "SVG!NodesOfDirectedMultiGraph is not supported by Buffy (TLC computes the layout in Java)")
=============================================================================
