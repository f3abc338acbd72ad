//! Conversion between typed [`Node`]s and the named datasets of a node group (shared by the
//! reader and the writer, so that both agree on names, element types and shapes).

use crate::error::{NirError, Result, in_memory};
use crate::graph::{
    Affine, Array, Conv, CubaLi, CubaLif, Delay, Flatten, If, Integrator, Li, Lif, Linear, Node,
    Padding, Pool2d, Scale, Threshold,
};

/// The value of one parameter dataset of a node group, as stored in the file.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// Floating-point data (stored as `f32`; any float width is read, and integers are
    /// accepted where floats are expected).
    Floats(Array),
    /// Integer data (stored as `i64`) with its shape; an empty shape is a scalar.
    Ints {
        /// The shape.
        shape: Vec<usize>,
        /// The values, row-major.
        data: Vec<i64>,
    },
    /// A scalar string (e.g. a convolution's `padding = "same"`).
    Str(String),
}

impl Node {
    /// The parameter datasets this node is stored as, by name, in file order (everything
    /// but `type` and `metadata`; empty for a nested graph). `Conv1d` settings are scalars
    /// and `Conv2d` ones pairs, as `nir` 1.0.8 writes them.
    pub fn parameters(&self) -> Vec<(&'static str, Param)> {
        node_fields(self)
    }
}

impl Param {
    fn kind(&self) -> String {
        match self {
            Self::Floats(a) => format!("float {:?}", a.shape()),
            Self::Ints { shape, .. } => format!("integer {shape:?}"),
            Self::Str(s) => format!("string {s:?}"),
        }
    }

    fn int_scalar(v: usize) -> Self {
        Self::Ints {
            shape: Vec::new(),
            data: vec![to_i64(v)],
        }
    }

    fn int_vec(v: &[usize]) -> Self {
        Self::Ints {
            shape: vec![v.len()],
            data: v.iter().map(|&x| to_i64(x)).collect(),
        }
    }
}

fn to_i64(v: usize) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The named datasets a node is written as (everything but `type` and `metadata`).
/// A nested graph has no fields of this kind (its `nodes`/`edges` are written by the writer).
pub(crate) fn node_fields(node: &Node) -> Vec<(&'static str, Param)> {
    let f = |a: &Array| Param::Floats(a.clone());
    match node {
        Node::Input { shape } | Node::Output { shape } => vec![("shape", Param::int_vec(shape))],
        Node::Affine(n) => vec![("weight", f(&n.weight)), ("bias", f(&n.bias))],
        Node::Linear(n) => vec![("weight", f(&n.weight))],
        Node::Conv1d(c) => conv_fields(c, true),
        Node::Conv2d(c) => conv_fields(c, false),
        Node::Flatten(n) => {
            let mut v = vec![
                (
                    "start_dim",
                    Param::Ints {
                        shape: Vec::new(),
                        data: vec![n.start_dim],
                    },
                ),
                (
                    "end_dim",
                    Param::Ints {
                        shape: Vec::new(),
                        data: vec![n.end_dim],
                    },
                ),
            ];
            if let Some(s) = &n.input_shape {
                v.push(("input_type", Param::int_vec(s)));
            }
            v
        }
        Node::SumPool2d(p) | Node::AvgPool2d(p) => vec![
            ("kernel_size", Param::int_vec(&p.kernel_size)),
            ("stride", Param::int_vec(&p.stride)),
            ("padding", Param::int_vec(&p.padding)),
        ],
        Node::Scale(n) => vec![("scale", f(&n.scale))],
        Node::Threshold(n) => vec![("threshold", f(&n.threshold))],
        Node::Delay(n) => vec![("delay", f(&n.delay))],
        Node::I(n) => vec![("r", f(&n.r))],
        Node::If(n) => vec![
            ("r", f(&n.r)),
            ("v_threshold", f(&n.v_threshold)),
            ("v_reset", f(&n.v_reset)),
        ],
        Node::Li(n) => vec![("tau", f(&n.tau)), ("r", f(&n.r)), ("v_leak", f(&n.v_leak))],
        Node::Lif(n) => vec![
            ("tau", f(&n.tau)),
            ("r", f(&n.r)),
            ("v_leak", f(&n.v_leak)),
            ("v_threshold", f(&n.v_threshold)),
            ("v_reset", f(&n.v_reset)),
        ],
        Node::CubaLi(n) => vec![
            ("tau_syn", f(&n.tau_syn)),
            ("tau_mem", f(&n.tau_mem)),
            ("r", f(&n.r)),
            ("v_leak", f(&n.v_leak)),
            ("w_in", f(&n.w_in)),
        ],
        Node::CubaLif(n) => vec![
            ("tau_syn", f(&n.tau_syn)),
            ("tau_mem", f(&n.tau_mem)),
            ("r", f(&n.r)),
            ("v_leak", f(&n.v_leak)),
            ("v_threshold", f(&n.v_threshold)),
            ("v_reset", f(&n.v_reset)),
            ("w_in", f(&n.w_in)),
        ],
        Node::Graph(_) => Vec::new(),
    }
}

/// `Conv1d` stores its spatial settings as scalars, `Conv2d` as pairs (as `nir` 1.0.8 does).
fn conv_fields(c: &Conv, one_d: bool) -> Vec<(&'static str, Param)> {
    let spatial = |v: &[usize]| match (one_d, v) {
        (true, [x]) => Param::int_scalar(*x),
        _ => Param::int_vec(v),
    };
    let mut fields = Vec::with_capacity(7);
    if let Some(s) = &c.input_shape {
        fields.push(("input_shape", spatial(s)));
    }
    fields.push(("weight", Param::Floats(c.weight.clone())));
    fields.push(("stride", spatial(&c.stride)));
    fields.push((
        "padding",
        match &c.padding {
            Padding::Same => Param::Str("same".into()),
            Padding::Valid => Param::Str("valid".into()),
            Padding::Explicit(p) => spatial(p),
        },
    ));
    fields.push(("dilation", spatial(&c.dilation)));
    fields.push(("groups", Param::int_scalar(c.groups)));
    fields.push(("bias", Param::Floats(c.bias.clone())));
    fields
}

/// Where node fields come from when reading: each call removes the field it returns, so that
/// the reader can reject what is left over.
pub(crate) trait FieldSource {
    /// The value of `name`, or `None` when the node group has no such dataset.
    fn take(&mut self, name: &'static str) -> Result<Option<Param>>;
}

struct Ctx<'a, S> {
    src: &'a mut S,
    node: &'a str,
    node_type: &'static str,
}

impl<S: FieldSource> Ctx<'_, S> {
    fn required(&mut self, field: &'static str) -> Result<Param> {
        self.src
            .take(field)?
            .ok_or_else(|| NirError::MissingParameter {
                file: in_memory(),
                node: self.node.to_string(),
                node_type: self.node_type,
                field,
            })
    }

    fn wrong(&self, field: &str, expected: &'static str, v: &Param) -> NirError {
        NirError::WrongType {
            file: in_memory(),
            node: self.node.to_string(),
            field: field.to_string(),
            expected,
            found: v.kind(),
        }
    }

    fn invalid(&self, field: &str, problem: String) -> NirError {
        NirError::InvalidParameter {
            file: in_memory(),
            node: self.node.to_string(),
            field: field.to_string(),
            problem,
        }
    }

    fn as_floats(&self, field: &str, v: Param) -> Result<Array> {
        match v {
            Param::Floats(a) => Ok(a),
            #[allow(clippy::cast_precision_loss)]
            Param::Ints { shape, data } => {
                Array::new(shape, data.into_iter().map(|x| x as f32).collect())
            }
            other => Err(self.wrong(field, "numbers", &other)),
        }
    }

    fn floats(&mut self, field: &'static str) -> Result<Array> {
        let v = self.required(field)?;
        self.as_floats(field, v)
    }

    fn ints(&self, field: &str, v: Param) -> Result<(Vec<usize>, Vec<i64>)> {
        match v {
            Param::Ints { shape, data } => Ok((shape, data)),
            other => Err(self.wrong(field, "integers", &other)),
        }
    }

    fn int_scalar(&mut self, field: &'static str) -> Result<i64> {
        let v = self.required(field)?;
        let (_, data) = self.ints(field, v)?;
        match data.as_slice() {
            [x] => Ok(*x),
            _ => Err(self.invalid(field, format!("expected one integer, got {}", data.len()))),
        }
    }

    fn non_negative(&self, field: &str, data: Vec<i64>) -> Result<Vec<usize>> {
        data.into_iter()
            .map(|x| {
                usize::try_from(x)
                    .map_err(|_| self.invalid(field, format!("expected values >= 0, got {x}")))
            })
            .collect()
    }

    /// A list of `len` non-negative integers; a single value is repeated (PyTorch and `nir`
    /// accept `stride=1` for `(1, 1)`). `len == None` accepts any length.
    fn usize_list(&self, field: &str, v: Param, len: Option<usize>) -> Result<Vec<usize>> {
        let (_, data) = self.ints(field, v)?;
        let data = self.non_negative(field, data)?;
        match (len, data.as_slice()) {
            (None, _) => Ok(data),
            (Some(n), _) if data.len() == n => Ok(data),
            (Some(n), [x]) => Ok(vec![*x; n]),
            (Some(n), _) => Err(self.invalid(
                field,
                format!("expected {n} value(s) (or one), got {}", data.len()),
            )),
        }
    }

    fn usize_field(&mut self, field: &'static str, len: Option<usize>) -> Result<Vec<usize>> {
        let v = self.required(field)?;
        self.usize_list(field, v, len)
    }

    fn pair(&mut self, field: &'static str) -> Result<[usize; 2]> {
        match self.usize_field(field, Some(2))?.as_slice() {
            [a, b] => Ok([*a, *b]),
            other => Err(self.invalid(field, format!("expected 2 values, got {}", other.len()))),
        }
    }

    /// `v_reset` may be absent in older files; `nir.read` then uses zeros shaped like
    /// `v_threshold`.
    fn v_reset(&mut self, v_threshold: &Array) -> Result<Array> {
        match self.src.take("v_reset")? {
            Some(v) => self.as_floats("v_reset", v),
            None => Ok(Array::full(v_threshold.shape().to_vec(), 0.0)),
        }
    }

    fn conv(&mut self, dims: usize) -> Result<Conv> {
        let input_shape = match self.src.take("input_shape")? {
            Some(v) => Some(self.usize_list("input_shape", v, Some(dims))?),
            None => None,
        };
        let weight = self.floats("weight")?;
        let stride = self.usize_field("stride", Some(dims))?;
        let padding = match self.required("padding")? {
            Param::Str(s) => match s.as_str() {
                "same" => Padding::Same,
                "valid" => Padding::Valid,
                other => {
                    return Err(self.invalid(
                        "padding",
                        format!("expected \"same\", \"valid\" or integers, got {other:?}"),
                    ));
                }
            },
            v => Padding::Explicit(self.usize_list("padding", v, Some(dims))?),
        };
        let dilation = self.usize_field("dilation", Some(dims))?;
        let groups_raw = self.int_scalar("groups")?;
        let groups = usize::try_from(groups_raw)
            .ok()
            .filter(|&g| g > 0)
            .ok_or_else(|| self.invalid("groups", format!("expected >= 1, got {groups_raw}")))?;
        let bias = self.floats("bias")?;
        Ok(Conv {
            input_shape,
            weight,
            stride,
            padding,
            dilation,
            groups,
            bias,
        })
    }
}

/// Builds the node of NIR type `node_type` (not `NIRGraph`) from its fields. `node` is the
/// node's path, for error messages. Returns `Ok(None)` when `node_type` is unknown.
pub(crate) fn node_from_fields<S: FieldSource>(
    node_type: &str,
    node: &str,
    src: &mut S,
) -> Result<Option<Node>> {
    let Some(&static_type) = crate::graph::NODE_TYPES.iter().find(|t| **t == node_type) else {
        return Ok(None);
    };
    let mut c = Ctx {
        src,
        node,
        node_type: static_type,
    };
    let node = match static_type {
        "Input" => Node::Input {
            shape: c.usize_field("shape", None)?,
        },
        "Output" => Node::Output {
            shape: c.usize_field("shape", None)?,
        },
        "Affine" => Node::Affine(Affine {
            weight: c.floats("weight")?,
            bias: c.floats("bias")?,
        }),
        "Linear" => Node::Linear(Linear {
            weight: c.floats("weight")?,
        }),
        "Conv1d" => Node::Conv1d(c.conv(1)?),
        "Conv2d" => Node::Conv2d(c.conv(2)?),
        "Flatten" => {
            let input_shape = match c.src.take("input_type")? {
                Some(v) => Some(c.usize_list("input_type", v, None)?),
                None => None,
            };
            Node::Flatten(Flatten {
                start_dim: c.int_scalar("start_dim")?,
                end_dim: c.int_scalar("end_dim")?,
                input_shape,
            })
        }
        "SumPool2d" | "AvgPool2d" => {
            let pool = Pool2d {
                kernel_size: c.pair("kernel_size")?,
                stride: c.pair("stride")?,
                padding: c.pair("padding")?,
            };
            if static_type == "SumPool2d" {
                Node::SumPool2d(pool)
            } else {
                Node::AvgPool2d(pool)
            }
        }
        "Scale" => Node::Scale(Scale {
            scale: c.floats("scale")?,
        }),
        "Threshold" => Node::Threshold(Threshold {
            threshold: c.floats("threshold")?,
        }),
        "Delay" => Node::Delay(Delay {
            delay: c.floats("delay")?,
        }),
        "I" => Node::I(Integrator { r: c.floats("r")? }),
        "IF" => {
            let r = c.floats("r")?;
            let v_threshold = c.floats("v_threshold")?;
            let v_reset = c.v_reset(&v_threshold)?;
            Node::If(If {
                r,
                v_threshold,
                v_reset,
            })
        }
        "LI" => Node::Li(Li {
            tau: c.floats("tau")?,
            r: c.floats("r")?,
            v_leak: c.floats("v_leak")?,
        }),
        "LIF" => {
            let tau = c.floats("tau")?;
            let r = c.floats("r")?;
            let v_leak = c.floats("v_leak")?;
            let v_threshold = c.floats("v_threshold")?;
            let v_reset = c.v_reset(&v_threshold)?;
            Node::Lif(Lif {
                tau,
                r,
                v_leak,
                v_threshold,
                v_reset,
            })
        }
        "CubaLI" => Node::CubaLi(CubaLi {
            tau_syn: c.floats("tau_syn")?,
            tau_mem: c.floats("tau_mem")?,
            r: c.floats("r")?,
            v_leak: c.floats("v_leak")?,
            w_in: c.floats("w_in")?,
        }),
        "CubaLIF" => {
            let tau_syn = c.floats("tau_syn")?;
            let tau_mem = c.floats("tau_mem")?;
            let r = c.floats("r")?;
            let v_leak = c.floats("v_leak")?;
            let v_threshold = c.floats("v_threshold")?;
            let v_reset = c.v_reset(&v_threshold)?;
            Node::CubaLif(CubaLif {
                tau_syn,
                tau_mem,
                r,
                v_leak,
                v_threshold,
                v_reset,
                w_in: c.floats("w_in")?,
            })
        }
        // "NIRGraph" is handled by the reader (it recurses into `nodes`).
        _ => return Ok(None),
    };
    Ok(Some(node))
}
